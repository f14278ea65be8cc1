package httpapi_test

// Tenant isolation matrix (issue 7, item 7): every route of router.go, with every method, called
// by a user of tenant B with ids of tenant A (in every position they can take, alone or mixed
// with B's own ids) answers exactly as the same request with random ids of the same shape, and
// changes no row and no blob. TestTenantIsolation (tokens_test.go) checks the session routes
// with one id each; this is the complete table.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// The helpers of this file start with "iso".

const (
	isoAlice = "alice@tenant-a"
	isoBob   = "bob@tenant-b"
	isoPW    = "pw"
)

// isoCall sends a request as login with the password isoPW; body is as testutil.Env.Call
// takes it.
func isoCall(t *testing.T, e *testutil.Env, method, path, login string, body any) *testutil.Response {
	t.Helper()
	return e.Sub(t).Call(method, path, login, isoPW, body)
}

// isoID reads the "id" of a 2xx JSON answer.
func isoID(t *testing.T, r *testutil.Response, what string) string {
	t.Helper()
	var v struct{ ID, URL string }
	if r.StatusCode/100 != 2 || json.Unmarshal(r.Body, &v) != nil || v.ID == "" {
		t.Fatalf("%s: %d %s", what, r.StatusCode, r.Body)
	}
	return v.ID
}

// isoRef reads the "ref" of a token's creation answer.
func isoRef(t *testing.T, r *testutil.Response) string {
	t.Helper()
	var v struct{ Ref string }
	if json.Unmarshal(r.Body, &v) != nil || v.Ref == "" {
		t.Fatalf("token without ref: %d %s", r.StatusCode, r.Body)
	}
	return v.Ref
}

// isoQueryToken is the token of an upload URL.
func isoQueryToken(t *testing.T, r *testutil.Response) string {
	t.Helper()
	var v struct{ URL string }
	if r.StatusCode != http.StatusCreated || json.Unmarshal(r.Body, &v) != nil {
		t.Fatalf("upload URL: %d %s", r.StatusCode, r.Body)
	}
	i := strings.LastIndex(v.URL, "token=")
	if i < 0 {
		t.Fatalf("upload URL %q has no token", v.URL)
	}
	return v.URL[i+len("token="):]
}

// isoToken is a random token of the shape the server makes.
func isoToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// isoDump renders every row of every table, to tell whether anything changed.
func isoDump(t *testing.T, e *testutil.Env) map[string]string {
	t.Helper()
	ctx := context.Background()
	// cache_sessions holds the instances' leases, renewed every second whatever the requests.
	rows, err := e.Store.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'cache_sessions'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables, "download_tokens") || !slices.Contains(tables, "uploads") {
		t.Fatalf("tables %v", tables)
	}
	out := map[string]string{}
	for _, table := range tables {
		var n int
		var text string
		if err := e.Store.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM %q x`, table)).Scan(&n, &text); err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d rows\n%s", n, text)
	}
	return out
}

// isoBlobs maps every file of the data directory to its content's hash.
func isoBlobs(t *testing.T, e *testutil.Env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range testutil.Files(t, e.DataDir) {
		b, err := os.ReadFile(filepath.Join(e.DataDir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = testutil.SHA256(b)
	}
	return out
}

// isoVolatile are the answer headers that differ between any two requests.
var isoVolatile = map[string]bool{"Date": true, "X-Request-Id": true}

// isoSame reports how two answers differ, or "".
func isoSame(a, b *testutil.Response) string {
	if a.StatusCode != b.StatusCode {
		return fmt.Sprintf("status %d, unknown id %d", a.StatusCode, b.StatusCode)
	}
	if !bytes.Equal(a.Body, b.Body) {
		return fmt.Sprintf("body %q, unknown id %q", a.Body, b.Body)
	}
	for k := range a.Header {
		if !isoVolatile[k] && !slices.Equal(a.Header[k], b.Header[k]) {
			return fmt.Sprintf("header %s %q, unknown id %q", k, a.Header[k], b.Header[k])
		}
	}
	for k := range b.Header {
		if _, ok := a.Header[k]; !ok && !isoVolatile[k] {
			return fmt.Sprintf("header %s only for the unknown id", k)
		}
	}
	return ""
}

// TestTenantIsolationMatrix: see the top of the file.
func TestTenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(isoAlice, isoPW)
	e.AddUser(isoBob, isoPW)

	// Tenant A: an upload; a session with a stored entry (with a download token) and a pending
	// one (with an upload URL).
	body, ctype := testutil.Multipart(t, testutil.FilePart("secret.txt", []byte("alice's upload")))
	req := e.NewRequest(http.MethodPost, "/uploads", isoAlice, isoPW, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	ids := map[string]string{"au": isoID(t, e.Do(req), "alice's upload")}
	ids["as"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions", isoAlice, nil), "alice's session")
	ids["af"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["as"]+"/files", isoAlice, map[string]any{"name": "a.txt"}), "alice's file")
	if r := isoCall(t, e, http.MethodPut, "/sessions/"+ids["as"]+"/files/"+ids["af"], isoAlice, []byte("alice's file")); r.StatusCode != http.StatusOK {
		t.Fatalf("alice's PUT: %d %s", r.StatusCode, r.Body)
	}
	ids["ap"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["as"]+"/files", isoAlice, map[string]any{"name": "p.txt"}), "alice's pending file")
	atok := isoCall(t, e, http.MethodPost, "/sessions/"+ids["as"]+"/files/"+ids["af"]+"/tokens", isoAlice, nil)
	ids["atok"], ids["aref"] = isoID(t, atok, "alice's token"), isoRef(t, atok)
	ids["aup"] = isoQueryToken(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["ap"], isoAlice, nil))

	// Tenant B: the same, so that mixed paths (B's session, A's file) can be tried.
	ids["bs"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions", isoBob, nil), "bob's session")
	ids["bf"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["bs"]+"/files", isoBob, map[string]any{"name": "b.txt"}), "bob's file")
	if r := isoCall(t, e, http.MethodPut, "/sessions/"+ids["bs"]+"/files/"+ids["bf"], isoBob, []byte("bob's file")); r.StatusCode != http.StatusOK {
		t.Fatalf("bob's PUT: %d %s", r.StatusCode, r.Body)
	}
	ids["bp"] = isoID(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["bs"]+"/files", isoBob, map[string]any{"name": "q.txt"}), "bob's pending file")
	btok := isoCall(t, e, http.MethodPost, "/sessions/"+ids["bs"]+"/files/"+ids["bf"]+"/tokens", isoBob, nil)
	ids["btok"], ids["bref"] = isoID(t, btok, "bob's token"), isoRef(t, btok)
	ids["bup"] = isoQueryToken(t, isoCall(t, e, http.MethodPost, "/sessions/"+ids["bp"], isoBob, nil))

	// expand fills a template: {x} is ids[x], except that with random set, each of A's ids (a…)
	// becomes a random one of the same shape, the same within one template.
	expand := func(tmpl string, random bool) string {
		fresh := map[string]string{}
		return isoExpand(tmpl, func(key string) string {
			if !random || key[0] != 'a' {
				return ids[key]
			}
			if fresh[key] == "" {
				fresh[key] = uuid.NewString()
				if key == "atok" || key == "aup" {
					fresh[key] = isoToken()
				}
			}
			return fresh[key]
		})
	}

	// Each path template with the answer of its routes (router.go) by method. A method not
	// listed is not routed there: 405. GET and HEAD of /uploads/{au}, and A's own complete
	// token and upload URLs, are capabilities that work for anyone by design (docs/behaviour.md §1), so
	// they are not in the matrix.
	type cell = map[string]int
	nf, unauth := http.StatusNotFound, http.StatusUnauthorized
	matrix := []struct {
		path   string
		routes cell
	}{
		{"/uploads/{au}", cell{"DELETE": nf, "GET": 0, "HEAD": 0}},
		{"/sessions/{as}", cell{"GET": nf, "DELETE": nf, "POST": nf}},
		{"/sessions/{af}", cell{"GET": nf, "DELETE": nf, "POST": nf}}, // POST: upload URL of a stored entry
		{"/sessions/{ap}", cell{"GET": nf, "DELETE": nf, "POST": nf}}, // POST: upload URL of a pending entry
		{"/sessions/{as}/files", cell{"GET": nf, "POST": nf}},
		{"/sessions/{as}/files?limit=1", cell{"GET": nf, "POST": nf}},
		{"/sessions/{as}/files/{af}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{ap}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{bs}/files/{af}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{bs}/files/{ap}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{bf}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{bp}", cell{"GET": nf, "PUT": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{af}/tokens", cell{"POST": nf, "GET": nf}},
		{"/sessions/{as}/files/{af}/tokens?limit=1", cell{"POST": nf, "GET": nf}},
		{"/sessions/{as}/files/{ap}/tokens", cell{"POST": nf, "GET": nf}},
		{"/sessions/{bs}/files/{af}/tokens", cell{"POST": nf, "GET": nf}},
		{"/sessions/{as}/files/{bf}/tokens", cell{"POST": nf, "GET": nf}},
		// A token link (GET, HEAD, POST) takes a token, a revocation (DELETE) a token's ref.
		{"/sessions/{bs}/files/{bf}/tokens/{atok}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{af}/tokens/{btok}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{bf}/tokens/{btok}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{bs}/files/{af}/tokens/{atok}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{af}/tokens/{aref}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{bs}/files/{bf}/tokens/{aref}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{bs}/files/{af}/tokens/{aref}", cell{"GET": nf, "HEAD": nf, "POST": nf, "DELETE": nf}},
		{"/sessions/{as}/files/{ap}?token={bup}", cell{"GET": nf, "PUT": unauth, "DELETE": nf}},
		{"/sessions/{bs}/files/{bp}?token={aup}", cell{"GET": 0, "PUT": unauth, "DELETE": 0}}, // GET, DELETE: B's own entry
		{"/sessions/{as}/files/{bp}?token={bup}", cell{"GET": nf, "PUT": unauth, "DELETE": nf}},
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

	dbBefore, blobsBefore := isoDump(t, e), isoBlobs(t, e)
	cells := 0
	for _, row := range matrix {
		for _, m := range methods {
			want, routed := row.routes[m]
			if routed && want == 0 {
				continue // not part of the matrix, see above
			}
			if !routed {
				want = http.StatusMethodNotAllowed
			}
			var body any
			switch m {
			case http.MethodPost, http.MethodPatch:
				// Bodies are read strictly: each route gets only keys of its own.
				body = map[string]any{"ttl": 60}
				if strings.HasSuffix(strings.Split(row.path, "?")[0], "/files") {
					body = map[string]any{"name": "bob.txt"}
				}
			case http.MethodPut:
				body = []byte("bob was here")
			}
			foreignPath, unknownPath := expand(row.path, false), expand(row.path, true)
			foreign := isoCall(t, e, m, foreignPath, isoBob, body)
			unknown := isoCall(t, e, m, unknownPath, isoBob, body)
			if foreign.StatusCode != want {
				t.Errorf("%s %s: %d %s, want %d", m, row.path, foreign.StatusCode, foreign.Body, want)
			} else if diff := isoSame(foreign, unknown); diff != "" {
				t.Errorf("%s %s: the foreign id's answer differs from an unknown id's: %s", m, row.path, diff)
			}
			cells++
		}
	}
	// The lists show nothing of A, also when paged with A's positions.
	for _, path := range []string{
		"/sessions", "/sessions?limit=1000",
		"/sessions?after=" + isoCursor(t, e, "sessions", ids["as"]),
		"/sessions/" + ids["bs"] + "/files?after=" + isoCursor(t, e, "session_files", ids["af"]),
	} {
		r := isoCall(t, e, http.MethodGet, path, isoBob, nil)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.StatusCode, r.Body)
		}
		for key, id := range ids {
			if key[0] == 'a' && bytes.Contains(r.Body, []byte(id)) {
				t.Errorf("GET %s as bob shows alice's %s: %s", path, key, r.Body)
			}
		}
	}
	t.Logf("%d route × method cells, each answered like an unknown id", cells)

	after := isoDump(t, e)
	for table, b := range dbBefore {
		if after[table] != b {
			t.Errorf("table %s changed:\nbefore %s\nafter  %s", table, b, after[table])
		}
	}
	if got := isoBlobs(t, e); !maps.Equal(got, blobsBefore) {
		t.Errorf("blobs %v, before %v", got, blobsBefore)
	}

	// Everything of A's still works for A.
	if r := isoCall(t, e, http.MethodGet, "/sessions/"+ids["as"], isoAlice, nil); r.StatusCode != http.StatusOK || !bytes.Contains(r.Body, []byte(`"fileCount":2`)) {
		t.Errorf("alice's session: %d %s", r.StatusCode, r.Body)
	}
	if r := isoCall(t, e, http.MethodGet, "/uploads/"+ids["au"], "", nil); r.StatusCode != http.StatusOK || string(r.Body) != "alice's upload" {
		t.Errorf("alice's upload: %d %q", r.StatusCode, r.Body)
	}
	if r := isoCall(t, e, http.MethodGet, "/sessions/"+ids["as"]+"/files/"+ids["af"]+"/tokens/"+ids["atok"], "", nil); r.StatusCode != http.StatusOK || string(r.Body) != "alice's file" {
		t.Errorf("alice's token: %d %q", r.StatusCode, r.Body)
	}
	if r := isoCall(t, e, http.MethodPut, "/sessions/"+ids["as"]+"/files/"+ids["ap"]+"?token="+ids["aup"], "", []byte("late")); r.StatusCode != http.StatusOK {
		t.Errorf("alice's upload URL: %d %s", r.StatusCode, r.Body)
	}
}

// isoExpand replaces each {key} of tmpl by value(key).
func isoExpand(tmpl string, value func(key string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}') + i
		b.WriteString(tmpl[:i])
		b.WriteString(value(tmpl[i+1 : j]))
		tmpl = tmpl[j+1:]
	}
}

// isoCursor is the page cursor that points at the row id of table, as the server makes them.
func isoCursor(t *testing.T, e *testutil.Env, table, id string) string {
	t.Helper()
	var c share.Cursor
	if err := e.Store.Pool.QueryRow(context.Background(), fmt.Sprintf("SELECT created_at, id FROM %s WHERE id = $1", table), id).Scan(&c.CreatedAt, &c.ID); err != nil {
		t.Fatal(err)
	}
	return c.String()
}
