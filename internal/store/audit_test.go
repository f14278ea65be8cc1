package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"fileshare/internal/testutil"
)

// auditorConn connects to the env's database as a fresh login role that is a member of
// fileshare_audit, as the README tells operators to set one up.
func auditorConn(t *testing.T, e *testutil.Env) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	var b [4]byte
	rand.Read(b[:])
	role := "auditor_" + hex.EncodeToString(b[:])
	if _, err := e.Store.Pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN IN ROLE fileshare_audit"); err != nil {
		t.Fatalf("create auditor role: %v", err)
	}
	u, _ := url.Parse(e.DBURL)
	u.User = url.User(role)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect as auditor: %v", err)
	}
	t.Cleanup(func() {
		conn.Close(context.Background())
		e.Store.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	return conn
}

// isRefused reports a permission error, or (for a write to a view that joins) the view's
// refusal to be written at all.
func isRefused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "55000")
}

func TestAuditRoleReadsViewsButNoSecretsAndCannotWrite(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	// Traffic to audit: an upload, and a session file downloaded with a one-time token.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "audit.txt")
	fw.Write([]byte("audited"))
	mw.Close()
	req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	e.Do(req)
	r := e.Do(e.NewRequest(http.MethodPost, "/sessions", "alice@acme", "pw", nil))
	var s struct{ ID string }
	json.Unmarshal(r.Body, &s)
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files", "alice@acme", "pw", strings.NewReader(`{"name":"x.bin"}`)))
	var f struct{ ID string }
	json.Unmarshal(r.Body, &f)
	e.Do(e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, "alice@acme", "pw", strings.NewReader("abc")))
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", "alice@acme", "pw", nil))
	var tok struct{ ID, URL string }
	json.Unmarshal(r.Body, &tok)
	if r := e.Do(e.NewRequest(http.MethodGet, tok.URL, "", "", nil)); r.StatusCode != http.StatusOK {
		t.Fatalf("token download: %d", r.StatusCode)
	}

	conn := auditorConn(t, e)
	ctx := context.Background()
	var login, state, addr string
	err := conn.QueryRow(ctx, `SELECT created_by, state, host(consumed_by_addr) FROM audit.download_tokens WHERE file_id = $1`, f.ID).Scan(&login, &state, &addr)
	if err != nil {
		t.Fatalf("auditor reads token consumption: %v", err)
	}
	if login != "alice@acme" || state != "delivered" || addr != "127.0.0.1" {
		t.Fatalf("token audit row: %q %q %q", login, state, addr)
	}
	for _, view := range []string{"tenants", "users", "uploads", "sessions", "files", "download_tokens", "upload_urls"} {
		rows, err := conn.Query(ctx, "SELECT * FROM audit."+view)
		if err != nil {
			t.Fatalf("audit.%s: %v", view, err)
		}
		n := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, v := range vals {
				if s, ok := v.(string); ok && (strings.Contains(s, "$argon2id$") || strings.Contains(s, tok.ID)) {
					t.Fatalf("audit.%s shows a secret: %q", view, s)
				}
			}
		}
		if rows.Err() != nil {
			t.Fatalf("audit.%s: %v", view, rows.Err())
		}
		for _, fd := range rows.FieldDescriptions() {
			if strings.Contains(fd.Name, "hash") {
				t.Fatalf("audit.%s has column %s", view, fd.Name)
			}
		}
		if view != "upload_urls" && n == 0 {
			t.Fatalf("audit.%s is empty", view)
		}
	}
	// The tables themselves, and any write, are refused.
	for _, q := range []string{
		"SELECT password_hash FROM users",
		"SELECT token_hash FROM download_tokens",
		"SELECT * FROM uploads",
		"INSERT INTO audit.tenants (tenant) VALUES ('x')",
		"UPDATE audit.uploads SET name = 'x'",
		"DELETE FROM audit.sessions",
		"DELETE FROM uploads",
	} {
		if _, err := conn.Exec(ctx, q); !isRefused(err) {
			t.Errorf("%s as auditor: %v, want it refused", q, err)
		}
	}
}

func TestEveryTableColumnAndViewIsCommented(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	rows, err := e.Store.Pool.Query(context.Background(), `
		SELECT c.relname || coalesce('.' || a.attname, '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
		WHERE n.nspname IN ('public', 'audit') AND c.relkind IN ('r', 'v') AND c.relname <> 'goose_db_version'
		  AND obj_description(c.oid, 'pg_class') IS NULL
		   OR (a.attname IS NOT NULL AND n.nspname = 'public' AND c.relname <> 'goose_db_version'
		       AND col_description(c.oid, a.attnum) IS NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("no comment on: %v", missing)
	}
	// And every timestamp is a timestamptz.
	var naive int
	e.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> 'goose_db_version' AND data_type = 'timestamp without time zone'`).Scan(&naive)
	if naive != 0 {
		t.Fatalf("%d timestamp columns without time zone", naive)
	}
}
