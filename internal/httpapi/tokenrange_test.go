package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

// A one-time token is spent by its download, so that download is always the whole file: a
// Range or conditional header must not leave the recipient with a part, a 304 or a 412.
func TestTokenDownloadIgnoresRangeAndConditions(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 10<<10)
	f := sessStoredFile(t, e, sessAlice, s.ID, "whole.bin", content)
	for _, hdr := range []map[string]string{
		{"Range": "bytes=0-9"},
		{"Range": "bytes=999999-"},
		{"If-None-Match": `"` + testutil.SHA256(content) + `"`},
		{"If-Match": `"not-the-etag"`},
		{"If-Modified-Since": "Mon, 01 Jan 2100 00:00:00 GMT"},
	} {
		tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
		head := e.NewRequest(http.MethodHead, tok.URL, "", "", nil)
		get := e.NewRequest(http.MethodGet, tok.URL, "", "", nil)
		for k, v := range hdr {
			head.Header.Set(k, v)
			get.Header.Set(k, v)
		}
		if r := e.Do(head); r.StatusCode != http.StatusOK {
			t.Fatalf("HEAD with %v: %d", hdr, r.StatusCode)
		}
		r := e.Do(get)
		if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, content) {
			t.Fatalf("GET with %v: %d, %d bytes, want 200 with the whole %d bytes", hdr, r.StatusCode, len(r.Body), len(content))
		}
		if !sessConsumed(t, e, tok.ID) {
			t.Fatalf("GET with %v did not consume the token", hdr)
		}
	}
}
