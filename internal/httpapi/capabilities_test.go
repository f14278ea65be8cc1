package httpapi_test

// This file is over 400 lines: one scenario that makes every kind of capability and then searches every audit view and log line for them.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Tests of the capabilities (docs/behaviour.md §1.5): the ids that grant access by themselves
// (a simple upload's id, a one-time token, an upload URL's token, a tus upload's id) reach
// neither the audit views nor the log. Session and file-entry ids need credentials and may
// appear. Helpers carry the prefix cap.

// capSecret is a capability made by the test, with the kind the failure messages name.
type capSecret struct {
	kind  string
	value string
}

// capWorld is everything capMakeEverything made through the HTTP API.
type capWorld struct {
	e *testutil.Env
	// secrets are every capability made, live or used up.
	secrets []capSecret
	// allowedLog lists, per capability value, the exact log messages that may hold it: the
	// error line of an expired upload, the 404 of an unknown (deleted) one.
	allowedLog map[string][]string
	// requests counts the requests sent, to wait for their access log lines.
	requests atomic.Int64
}

func (w *capWorld) add(kind, value string) {
	w.e.T.Helper()
	if value == "" {
		w.e.T.Fatalf("%s: empty capability", kind)
	}
	w.secrets = append(w.secrets, capSecret{kind: kind, value: value})
}

// do sends req and counts it.
func (w *capWorld) do(req *http.Request) *testutil.Response {
	w.e.T.Helper()
	w.requests.Add(1)
	return w.e.Do(req)
}

// call is testutil.Env.Call, counted.
func (w *capWorld) call(method, path, login string, body any) *testutil.Response {
	w.e.T.Helper()
	w.requests.Add(1)
	return w.e.Call(method, path, login, sessPW, body)
}

// want fails unless r has status.
func (w *capWorld) want(r *testutil.Response, status int) *testutil.Response {
	w.e.T.Helper()
	if r.StatusCode != status {
		w.e.T.Fatalf("setup: %s %s: status %d, want %d; body %.300q", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	return r
}

// forms are the spellings of a capability that must not appear: as it is, the 32 hex digits
// of a UUID without hyphens, and the standard base64 a tus client puts a token in its
// Upload-Metadata with.
func (s capSecret) forms() map[string]string {
	out := map[string]string{"canonical": s.value}
	if u, err := uuid.Parse(s.value); err == nil {
		out["canonical"] = u.String()
		out["32 hex digits"] = strings.ReplaceAll(u.String(), "-", "")
	} else {
		out["base64 (tus metadata)"] = base64.StdEncoding.EncodeToString([]byte(s.value))
	}
	return out
}

// find reports the first spelling of a capability that text holds ("" for none). UUIDs are
// looked for in any case.
func (s capSecret) find(text string) string {
	lower := strings.ToLower(text)
	for form, v := range s.forms() {
		if _, err := uuid.Parse(s.value); err == nil {
			if strings.Contains(lower, strings.ToLower(v)) {
				return form
			}
		} else if strings.Contains(text, v) {
			return form
		}
	}
	return ""
}

// capUploadID is the id at the end of an upload's or a tus upload's URL.
func capUploadID(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Path == "" {
		t.Fatalf("setup: URL %q: %v", rawURL, err)
	}
	return path.Base(u.Path)
}

// capMakeEverything creates, through the HTTP API, data of every kind that has a capability,
// uses most of them, and records every capability made. A webhook endpoint of the tenant is
// registered first, so that every change records an event (audit.webhook_deliveries).
func capMakeEverything(t *testing.T) *capWorld {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	e := sessNewEnv(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	w := &capWorld{e: e, allowedLog: map[string][]string{}}

	// A webhook endpoint for every event type. Its signing secret is no file capability, but the
	// audit views promise not to show it either.
	type webhookAnswer struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	hook := testutil.Decode[webhookAnswer](t, w.call(http.MethodPost, "/webhooks", sessAlice, map[string]any{"url": receiver.URL + "/hook"}), http.StatusCreated)
	w.add("webhook signing secret", hook.Secret)

	// Simple uploads: one live, one expired, one deleted.
	upload := func(name, content string) upAnswer {
		t.Helper()
		w.requests.Add(1)
		return upCreate(e, sessAlice, sessPW, testutil.FilePart(name, []byte(content)))
	}
	live := upload("live.txt", "0123456789")
	w.add("simple upload id (live)", live.ID)
	if got := capUploadID(t, live.URL); got != live.ID {
		t.Fatalf("setup: upload url %q does not end with its id %s", live.URL, live.ID)
	}
	expired := upload("expired.txt", "old")
	w.add("simple upload id (expired)", expired.ID)
	deleted := upload("deleted.txt", "soon gone")
	w.add("simple upload id (deleted by DELETE)", deleted.ID)

	w.want(w.do(e.NewRequest(http.MethodGet, "/uploads/"+live.ID, "", "", nil)), http.StatusOK)
	w.want(w.do(e.NewRequest(http.MethodHead, "/uploads/"+live.ID, "", "", nil)), http.StatusOK)
	rng := e.NewRequest(http.MethodGet, "/uploads/"+live.ID, "", "", nil)
	rng.Header.Set("Range", "bytes=100-")
	testutil.WantError(t, w.do(rng), http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
	// DELETE without credentials: refused, the upload stays live.
	testutil.WantError(t, w.do(e.NewRequest(http.MethodDelete, "/uploads/"+live.ID, "", "", nil)), http.StatusUnauthorized, "unauthorized")

	testutil.Exec(t, e, `UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID)
	testutil.WantError(t, w.do(e.NewRequest(http.MethodGet, "/uploads/"+expired.ID, "", "", nil)), http.StatusGone, "upload expired")
	w.allowedLog[expired.ID] = []string{"Error at /uploads/" + expired.ID + ": message=upload expired, status=410"}

	w.want(w.do(e.NewRequest(http.MethodDelete, "/uploads/"+deleted.ID, sessAlice, sessPW, nil)), http.StatusNoContent)
	testutil.WantError(t, w.do(e.NewRequest(http.MethodGet, "/uploads/"+deleted.ID, "", "", nil)), http.StatusNotFound, "upload not found")
	w.allowedLog[deleted.ID] = []string{"Error at /uploads/" + deleted.ID + ": message=upload not found, status=404"}

	// A session: an entry stored by PUT with Basic Auth and its one-time tokens; entries stored
	// with an upload URL by PUT and by tus; an entry whose upload URL stays unused.
	s := testutil.Decode[sessSession](t, w.call(http.MethodPost, "/sessions", sessAlice, nil), http.StatusCreated)
	newFile := func(name string) sessFile {
		t.Helper()
		return testutil.Decode[sessFile](t, w.call(http.MethodPost, "/sessions/"+s.ID+"/files", sessAlice, map[string]any{"name": name}), http.StatusCreated)
	}
	content := []byte("the stored entry's content")
	stored := newFile("stored.txt")
	testutil.Decode[sessFile](t, w.call(http.MethodPut, "/sessions/"+s.ID+"/files/"+stored.ID, sessAlice, content), http.StatusOK)

	newToken := func(pin bool) dlToken {
		t.Helper()
		var body any
		if pin {
			body = map[string]any{"pin": true}
		}
		tok := testutil.Decode[dlToken](t, w.call(http.MethodPost, dlTokensPath(s.ID, stored.ID), sessAlice, body), http.StatusCreated)
		if pin && tok.PIN == "" {
			t.Fatalf("setup: a token made with a PIN has none: %+v", tok)
		}
		return tok
	}
	tokGet := func(tok dlToken, method string, header ...string) *testutil.Response {
		t.Helper()
		req := e.NewRequest(method, tok.URL, "", "", nil)
		req.Header.Set("User-Agent", dlCurlUA)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return w.do(req)
	}
	unused := newToken(false)
	w.add("one-time token (unused)", unused.ID)
	w.want(tokGet(unused, http.MethodHead), http.StatusOK)
	consumed := newToken(false)
	w.add("one-time token (consumed)", consumed.ID)
	w.want(tokGet(consumed, http.MethodGet), http.StatusOK)
	testutil.WantError(t, tokGet(consumed, http.MethodGet), http.StatusGone, "download token already used")
	pinUsed := newToken(true)
	w.add("one-time token with PIN (consumed)", pinUsed.ID)
	testutil.WantError(t, tokGet(pinUsed, http.MethodGet), http.StatusForbidden, "pin required")
	w.want(tokGet(pinUsed, http.MethodGet, "Fileshare-Pin", pinUsed.PIN), http.StatusOK)
	pinUnused := newToken(true)
	w.add("one-time token with PIN (unused)", pinUnused.ID)
	testutil.WantError(t, tokGet(pinUnused, http.MethodGet, "Fileshare-Pin", dlWrongPIN(t, pinUnused.PIN, 0)), http.StatusForbidden, "wrong pin")

	uploadURL := func(f sessFile) (string, string) {
		t.Helper()
		up := testutil.Decode[sessUploadURL](t, w.call(http.MethodPost, "/sessions/"+f.ID, sessAlice, nil), http.StatusCreated)
		u, err := neturl.Parse(up.URL)
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("setup: upload URL %q has no token (%v)", up.URL, err)
		}
		return up.URL, u.Query().Get("token")
	}
	putFile := newFile("put-by-url.txt")
	putURL, putToken := uploadURL(putFile)
	w.add("upload token (used by PUT)", putToken)
	w.want(w.do(e.NewRequest(http.MethodPut, putURL, "", "", strings.NewReader("uploaded with the URL"))), http.StatusOK)
	idleFile := newFile("never-uploaded.txt")
	_, idleToken := uploadURL(idleFile)
	w.add("upload token (unused)", idleToken)

	// tus: a simple upload finished, one left unfinished, and a file entry's content
	// authorised by an upload URL's token.
	tusReq := func(method, target, login string, body []byte, header ...string) *testutil.Response {
		t.Helper()
		w.requests.Add(1)
		return e.Do(tuRequest(e, method, target, login, body, header...))
	}
	tusCreate := func(login string, length int, meta string, body []byte) *testutil.Response {
		t.Helper()
		r := tusReq(http.MethodPost, "/tus", login, body, "Upload-Length", strconv.Itoa(length), "Upload-Metadata", meta)
		if r.StatusCode != http.StatusCreated || r.Header.Get("Location") == "" {
			t.Fatalf("setup: POST /tus: %d %v %s", r.StatusCode, r.Header, r.Body)
		}
		return r
	}
	tusPatch := func(loc string, offset int, data []byte) *testutil.Response {
		t.Helper()
		r := tusReq(http.MethodPatch, loc, "", data, "Upload-Offset", strconv.Itoa(offset))
		tuWantOffset(t, r, offset+len(data))
		return r
	}
	tusHead := func(loc string) {
		t.Helper()
		w.want(tusReq(http.MethodHead, loc, "", nil), http.StatusOK)
	}

	finishedData := []byte("a resumable upload, sent in two PATCHes")
	finishedLoc := tusCreate(sessAlice, len(finishedData), tuMeta("filename", "tus.txt", "filetype", "text/plain"), nil).Header.Get("Location")
	finishedID := capUploadID(t, finishedLoc)
	tusPatch(finishedLoc, 0, finishedData[:10])
	tusHead(finishedLoc)
	last := tusPatch(finishedLoc, 10, finishedData[10:])
	// The download id of the finished upload: Fileshare-Upload-Url when the answer has it,
	// otherwise the tus id, which the upload takes.
	downloadID := finishedID
	if u := last.Header.Get("Fileshare-Upload-Url"); u != "" {
		downloadID = capUploadID(t, u)
	}
	if downloadID == finishedID {
		w.add("tus upload id (finished simple upload, also its download id)", finishedID)
	} else {
		w.add("tus upload id (finished simple upload)", finishedID)
		w.add("simple upload id (from a finished tus upload)", downloadID)
	}
	if r := w.want(w.do(e.NewRequest(http.MethodGet, "/uploads/"+downloadID, "", "", nil)), http.StatusOK); string(r.Body) != string(finishedData) {
		t.Fatalf("setup: the finished tus upload downloads as %q", r.Body)
	}
	tusHead(finishedLoc)

	unfinishedLoc := tusCreate(sessAlice, 100, tuMeta("filename", "half.bin"), []byte("first bytes")).Header.Get("Location")
	w.add("tus upload id (unfinished)", capUploadID(t, unfinishedLoc))
	tusPatch(unfinishedLoc, len("first bytes"), []byte("more"))
	tusHead(unfinishedLoc)

	tusFile := newFile("by-tus.bin")
	_, tusToken := uploadURL(tusFile)
	w.add("upload token (used by tus)", tusToken)
	tokLoc := tusCreate("", 3, tuMeta("sessionId", s.ID, "fileId", tusFile.ID, "token", tusToken), []byte("ab")).Header.Get("Location")
	w.add("tus upload id (file entry, with an upload token)", capUploadID(t, tokLoc))
	tusHead(tokLoc)
	tusPatch(tokLoc, 2, []byte("c"))
	tusHead(tokLoc)

	// Every capability is distinct, or a leak could be blamed on the wrong kind.
	seen := map[string]string{}
	for _, c := range w.secrets {
		if k, dup := seen[c.value]; dup {
			t.Fatalf("setup: %s and %s are the same string %s", k, c.kind, c.value)
		}
		seen[c.value] = c.kind
	}
	return w
}

// capAuditViews lists the views of the schema audit, as the database has them.
func capAuditViews(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT viewname FROM pg_views WHERE schemaname = 'audit' ORDER BY viewname`)
	if err != nil {
		t.Fatalf("listing the audit views: %v", err)
	}
	views, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("listing the audit views: %v", err)
	}
	return views
}

// capColumns lists the columns of an audit view, in order.
func capColumns(t *testing.T, conn *pgx.Conn, view string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT a.attname FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, pgx.Identifier{"audit", view}.Sanitize())
	if err != nil {
		t.Fatalf("columns of audit.%s: %v", view, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("columns of audit.%s: %v", view, err)
	}
	return cols
}

// TestAuditViewsHoldNoCapability reads every audit view as the role fileshare_audit, every
// row and every column as text, and finds no capability in any cell: rows are identified by
// refs, and nothing an auditor reads downloads, uploads or cancels a file.
func TestAuditViewsHoldNoCapability(t *testing.T) {
	t.Parallel()
	w := capMakeEverything(t)
	ctx := context.Background()
	// A connection of its own, so that the role never reaches the service's pool.
	conn, err := pgx.Connect(ctx, w.e.DBURL)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(ctx)

	views := capAuditViews(t, conn)
	columns := map[string][]string{}
	for _, v := range views {
		columns[v] = capColumns(t, conn, v)
	}
	for _, want := range []string{"uploads", "sessions", "files", "download_tokens", "upload_urls", "tus_uploads", "webhooks", "webhook_deliveries"} {
		if _, ok := columns[want]; !ok {
			t.Errorf("there is no view audit.%s (views: %v)", want, views)
		}
	}
	// What was made shows up: a view that went empty would hide nothing and prove nothing.
	minRows := map[string]int{
		"tenants": 1, "users": 1, "webhooks": 1, "webhook_deliveries": 1, "sessions": 1,
		"uploads":         3, // live, expired, and the finished tus upload (the deleted one is gone)
		"files":           4,
		"download_tokens": 4,
		"upload_urls":     3,
		"tus_uploads":     3,
	}

	if _, err := conn.Exec(ctx, `SET ROLE fileshare_audit`); err != nil {
		t.Fatalf("SET ROLE fileshare_audit: %v", err)
	}
	for _, view := range views {
		cols := columns[view]
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = pgx.Identifier{c}.Sanitize() + "::text"
		}
		q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + pgx.Identifier{"audit", view}.Sanitize()
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Errorf("the auditor cannot read audit.%s: %v", view, err)
			continue
		}
		// leaks[column][kind] = how many rows, and one example.
		type leak struct {
			rows    int
			form    string
			example string
		}
		leaks := map[string]map[string]*leak{}
		n := 0
		for rows.Next() {
			n++
			cells := make([]*string, len(cols))
			dest := make([]any, len(cols))
			for i := range cells {
				dest[i] = &cells[i]
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatalf("audit.%s: %v", view, err)
			}
			for i, cell := range cells {
				if cell == nil {
					continue
				}
				for _, s := range w.secrets {
					form := s.find(*cell)
					if form == "" {
						continue
					}
					if leaks[cols[i]] == nil {
						leaks[cols[i]] = map[string]*leak{}
					}
					l := leaks[cols[i]][s.kind]
					if l == nil {
						l = &leak{form: form, example: *cell}
						leaks[cols[i]][s.kind] = l
					}
					l.rows++
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Errorf("the auditor cannot read audit.%s: %v", view, err)
			continue
		}
		if n < minRows[view] {
			t.Errorf("audit.%s shows %d rows, want at least %d for the data the test made", view, n, minRows[view])
		}
		colNames := make([]string, 0, len(leaks))
		for c := range leaks {
			colNames = append(colNames, c)
		}
		sort.Strings(colNames)
		for _, c := range colNames {
			kinds := make([]string, 0, len(leaks[c]))
			for k := range leaks[c] {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				l := leaks[c][k]
				t.Errorf("audit.%s column %s shows a capability: the %s (%s form) in %d row(s), e.g. %.200q",
					view, c, k, l.form, l.rows, l.example)
			}
		}
	}
	if _, err := conn.Exec(ctx, `RESET ROLE`); err != nil {
		t.Fatalf("RESET ROLE: %v", err)
	}
}

// TestAccessLogHoldsNoCapability sends requests of every kind that carries a capability in its
// path or query, and finds none in any log line: the access log writes them as <redacted> (or
// as their ref). Only the error line of an expired upload keeps its id (it opens nothing), and
// the 404 of an unknown upload its unknown id.
func TestAccessLogHoldsNoCapability(t *testing.T) {
	t.Parallel()
	w := capMakeEverything(t)
	e := w.e
	// The access log line is written once the handler returns, a moment after the answer.
	want := int(w.requests.Load())
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("the access log lines of the %d requests", want), func() bool {
		n := 0
		for _, m := range e.LogMessages() {
			if m == "request" {
				n++
			}
		}
		return n >= want
	})

	type leak struct {
		lines   int
		first   int
		form    string
		example string
	}
	leaks := map[string]*leak{}
	var order []string
	sc := bufio.NewScanner(strings.NewReader(e.Logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		var parsed struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &parsed); err != nil {
			t.Fatalf("log line %d is not JSON: %q", lineNo, line)
		}
	secrets:
		for _, s := range w.secrets {
			form := s.find(line)
			if form == "" {
				continue
			}
			for _, ok := range w.allowedLog[s.value] {
				if parsed.Msg == ok {
					continue secrets
				}
			}
			key := s.kind + "\x00" + parsed.Msg
			l := leaks[key]
			if l == nil {
				l = &leak{first: lineNo, form: form, example: line}
				leaks[key] = l
				order = append(order, key)
			}
			l.lines++
		}
	}
	for _, key := range order {
		l := leaks[key]
		kind, msg, _ := strings.Cut(key, "\x00")
		t.Errorf("the log holds the %s (%s form) in %d line(s) with message %q, first at line %d: %s",
			kind, l.form, l.lines, msg, l.first, l.example)
	}
}
