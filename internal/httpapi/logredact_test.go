package httpapi_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/testutil"
)

// TestLogsHoldNoTokenWhateverThePath: a live download token or upload token reaches no log
// line, whatever shape the path or query has that carries it: an empty segment before it, the
// route's words in another case, a query parameter named token in another case, or any other
// segment or query value that has the shape of a token. Normal token routes keep their
// /tokens/<redacted> form.
func TestLogsHoldNoTokenWhateverThePath(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "secret.txt", []byte("secret"))
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	pending := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "later.txt"})
	up := sessCreateUploadURL(t, e, sessAlice, pending.ID, nil)
	u, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	upTok := u.Query().Get("token")
	if len(tok.ID) != 43 || len(upTok) != 43 {
		t.Fatalf("token %q, upload token %q: not of the shape this test expects", tok.ID, upTok)
	}
	files := "/sessions/" + s.ID + "/files/" + f.ID
	probes := []struct{ method, path string }{
		{http.MethodHead, files + "/tokens//" + tok.ID},
		{http.MethodHead, files + "/TOKENS/" + tok.ID},
		{http.MethodGet, "/x?Token=" + tok.ID},
		{http.MethodGet, "/x?TOKEN=" + upTok + "&a=b"},
		{http.MethodGet, "/x?q=" + tok.ID},
		{http.MethodGet, "/x?" + tok.ID},
		{http.MethodGet, "/x?" + tok.ID + "=1"},
		{http.MethodGet, "/x/" + tok.ID},
		{http.MethodGet, "/x/pre" + tok.ID + ".txt/y"},
		{http.MethodGet, "/x/%" + strings.ToUpper(hex.EncodeToString([]byte(tok.ID[:1]))) + tok.ID[1:]},
		{http.MethodGet, "/uploads/" + tok.ID},
		{http.MethodDelete, "/uploads/" + upTok},
		{http.MethodPost, "/sessions/" + upTok},
		{http.MethodPut, "/sessions/" + s.ID + "/files/" + pending.ID + "/" + upTok},
		{http.MethodHead, files + "/tokens/" + tok.ID},
		{http.MethodGet, files + "/tokens/" + uuid.NewString() + "/" + tok.ID},
	}
	for _, p := range probes {
		req := e.NewRequest(p.method, p.path, "", "", nil)
		id := uuid.NewString()
		req.Header.Set("X-Request-ID", id)
		r := e.Do(req)
		if r.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", p.method, p.path, r.StatusCode, r.Body)
		}
		testutil.Eventually(t, 5*time.Second, "the request line of "+p.method+" "+p.path, func() bool {
			for _, l := range strings.Split(e.Logs.String(), "\n") {
				var line struct {
					Msg       string
					RequestID string `json:"request_id"`
				}
				if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "request" && line.RequestID == id {
					return true
				}
			}
			return false
		})
	}
	logs := e.Logs.String()
	for _, secret := range []string{tok.ID, upTok} {
		if i := strings.Index(logs, secret); i >= 0 {
			t.Errorf("the log holds the token %s: …%s…", secret, logs[max(0, i-200):i+len(secret)])
		}
	}
	// The normal routes keep their form, and the token still works: HEAD never consumes.
	for _, want := range []string{
		`"path":"` + files + `/tokens/<redacted>"`,
		"Error at " + files + "/tokens/<redacted>/<redacted>: message=not found, status=404",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	if r := e.Do(e.NewRequest(http.MethodGet, tok.URL, "", "", nil)); r.StatusCode != http.StatusOK || string(r.Body) != "secret" {
		t.Errorf("the token after the probes: %d %s", r.StatusCode, r.Body)
	}
}
