package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"fileshare/internal/testutil"
)

// TestJSONBodiesAreStrict: a JSON body is read as the API document types it. A number sent as
// a string, a key in another case, an unknown key, a key given twice, a body that is not one
// object and trailing data all answer 400 "invalid JSON body" and create nothing, on each of
// the four routes that take JSON; a body over 64 KiB answers 413. What the document allows
// still works.
func TestJSONBodiesAreStrict(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "a.txt"})
	ttlRefused := []string{
		`{"ttl":"60"}`, `{"ttl":" 60"}`, `{"ttl":"1e3"}`, `{"Ttl":1}`, `{"TTL":60}`, `{"tTl":60}`, `{"ttl":-1,"ttl":60}`,
		`{"ttl":60,"ttl":60}`, `{"ttl":60,"tll":60}`, `{"x":1}`, `{"ttl":[60]}`, `{"ttl":{"s":60}}`,
		`{"ttl":true}`, `null`, `[]`, `60`, `"ttl"`, `{"ttl":60}{"ttl":60}`, `{"ttl":60} x`, `{"ttl":60},`, ` `,
		`{"t\u0054l":60}`, "{\"ttl\":60}\x00",
	}
	ttlAccepted := []string{`{"ttl":60}`, ` { "ttl" : 60 } ` + "\n", `{"ttl":null}`, `{}`, `{"\u0074tl":60}`}
	routes := []struct {
		what, path string
		refused    []string
		accepted   []string
		count      string
	}{
		{"POST /sessions", "/sessions", append([]string{`{"ttl":60,"pin":true}`}, ttlRefused...), ttlAccepted, "SELECT count(*) FROM sessions"},
		{"POST /sessions/{fileId}", "/sessions/" + f.ID, append([]string{`{"ttl":60,"pin":true}`}, ttlRefused...), ttlAccepted, "SELECT count(*) FROM upload_tokens"},
		{"POST …/tokens", "/sessions/" + s.ID + "/files/" + f.ID + "/tokens",
			append([]string{`{"pin":"true"}`, `{"pin":1}`, `{"PIN":true}`, `{"Pin":true}`, `{"pin":true,"pin":false}`}, ttlRefused...),
			append([]string{`{"pin":true}`, `{"ttl":60,"pin":false}`, `{"pin":null}`}, ttlAccepted...),
			"SELECT count(*) FROM download_tokens"},
		{"POST …/files", "/sessions/" + s.ID + "/files",
			[]string{
				`{"name":"a","size":"5"}`, `{"name":"a","size":"0x5"}`, `{"Name":"a"}`, `{"NAME":"a"}`, `{"name":"a","Size":5}`,
				`{"name":"a","contenttype":"text/plain"}`, `{"name":"a","name":"b"}`, `{"name":"a","size":5,"size":6}`,
				`{"name":"a","size":-1,"size":5}`, `{"name":"a","extra":true}`, `{"name":"a","contentType":5}`,
				`{"name":["a"]}`, `{"name":"a","size":true}`, `{"name":"a"}{"name":"b"}`, `{"name":"a"}]`, `null`, `["a"]`,
			},
			[]string{`{"name":"b"}`, `{"name":"c","contentType":"text/plain","size":5}`, `{"name":"d","size":null,"contentType":null}`},
			"SELECT count(*) FROM session_files"},
	}
	for _, r := range routes {
		before := testutil.QueryInt(t, e, r.count)
		for _, body := range r.refused {
			res := sessCall(t, e, http.MethodPost, r.path, sessAlice, body)
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s: %d %s, want 400", r.what, body, res.StatusCode, res.Body)
				continue
			}
			testutil.WantError(t, res, http.StatusBadRequest, "invalid JSON body")
		}
		if n := testutil.QueryInt(t, e, r.count); n != before {
			t.Fatalf("%s: refused bodies created %d rows", r.what, n-before)
		}
		for _, body := range r.accepted {
			if res := sessCall(t, e, http.MethodPost, r.path, sessAlice, body); res.StatusCode != http.StatusCreated {
				t.Errorf("%s %s: %d %s, want 201", r.what, body, res.StatusCode, res.Body)
			}
		}

		// 64 KiB is the most a JSON body may be: one byte more answers 413.
		pad := func(n int) string {
			b := `{"ttl":60}`
			if strings.HasSuffix(r.path, "/files") {
				b = `{"name":"p"}`
			}
			return b + strings.Repeat(" ", n-len(b))
		}
		if res := sessCall(t, e, http.MethodPost, r.path, sessAlice, pad(64<<10)); res.StatusCode != http.StatusCreated {
			t.Errorf("%s with a body of 64 KiB: %d %s, want 201", r.what, res.StatusCode, res.Body)
		}
		for _, n := range []int{64<<10 + 1, 1 << 20} {
			testutil.WantError(t, sessCall(t, e, http.MethodPost, r.path, sessAlice, pad(n)), http.StatusRequestEntityTooLarge, "request body too large")
		}
	}
}
