package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

// rtRaw sends req without the OpenAPI check of e.Do: the document's router matches the decoded
// path, so it would take /uploads%2F{id} for /uploads/{id}, which is the very confusion these
// requests test the server for.
func rtRaw(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestEncodedSlashIsNoSeparator: %2F in a path is a character of a segment, not a separator,
// so /uploads%2F{id} is no route (404 "not found") instead of the upload; other encoded
// characters of an id still decode, and an unknown route or method answers JSON.
func TestEncodedSlashIsNoSeparator(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	up := upCreate(e, "alice@acme", "pw", testutil.FilePart("a.txt", []byte("hello")))
	s := sessCreateSession(t, e, "alice@acme", nil)

	for _, c := range []struct{ method, path, login string }{
		{http.MethodGet, "/uploads%2F" + up.ID, ""},
		{http.MethodGet, "/uploads%2f" + up.ID, ""},
		{http.MethodHead, "/uploads%2F" + up.ID, ""},
		{http.MethodDelete, "/uploads%2F" + up.ID, "alice@acme"},
		{http.MethodGet, "/sessions%2F" + s.ID, "alice@acme"},
		{http.MethodGet, "/sessions%2F" + s.ID + "/files", "alice@acme"},
	} {
		status, body := rtRaw(t, e.NewRequest(c.method, c.path, c.login, "pw", nil))
		var m struct{ Message string }
		if status != http.StatusNotFound || c.method != http.MethodHead && (json.Unmarshal([]byte(body), &m) != nil || m.Message != "not found") {
			t.Errorf("%s %s: %d %s, want 404 {\"message\":\"not found\"}", c.method, c.path, status, body)
		}
	}
	// An encoded slash inside an id's segment is part of the id: no such id.
	if status, body := rtRaw(t, e.NewRequest(http.MethodGet, "/sessions/"+s.ID+"%2Ffiles", "alice@acme", "pw", nil)); status != http.StatusNotFound {
		t.Errorf("GET /sessions/{id}%%2Ffiles: %d %s, want 404", status, body)
	}

	// The upload is still there, by its plain path and with another character encoded.
	for _, p := range []string{"/uploads/" + up.ID, "/uploads/" + fmt.Sprintf("%%%02X", up.ID[0]) + up.ID[1:]} {
		if r := e.Do(e.NewRequest(http.MethodGet, p, "", "", nil)); r.StatusCode != http.StatusOK || string(r.Body) != "hello" {
			t.Errorf("GET %s: %d %s", p, r.StatusCode, r.Body)
		}
	}
	if r := e.Do(e.NewRequest(http.MethodGet, "/sessions/"+s.ID+"/files", "alice@acme", "pw", nil)); r.StatusCode != http.StatusOK {
		t.Errorf("GET /sessions/{id}/files: %d %s", r.StatusCode, r.Body)
	}

	// Unknown routes and methods answer JSON.
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, "/nope", "", "", nil)), http.StatusNotFound, "not found")
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodPatch, "/uploads/"+up.ID, "", "", nil)), http.StatusMethodNotAllowed, "method not allowed")
}
