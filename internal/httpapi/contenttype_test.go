package httpapi_test

import (
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

// TestContentTypeIsTypeSlashSubtype: a declared content type is kept only when it is
// type/subtype (with parameters or not); a bare token such as "0" or "text", which the media
// type parser also takes, falls back to the type guessed from the name, else
// application/octet-stream, for a simple upload's part as for a file entry.
func TestContentTypeIsTypeSlashSubtype(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	for _, c := range []struct{ declared, name, want string }{
		{"0", "a", "application/octet-stream"},
		{"0", "a.txt", "text/plain; charset=utf-8"},
		{"text; charset=utf-8", "a", "application/octet-stream"},
		{"text/", "a", "application/octet-stream"},
		{"text/plain/x", "a", "application/octet-stream"},
		{"Text/Plain; Charset=UTF-8", "a", "text/plain; charset=UTF-8"},
		{"application/vnd.example+json", "a.txt", "application/vnd.example+json"},
	} {
		up := upCreate(e, sessAlice, sessPW, testutil.Part{Field: "file", Filename: c.name, ContentType: c.declared, Data: []byte("x")})
		if up.ContentType != c.want {
			t.Errorf("upload with Content-Type %q named %q: contentType %q, want %q", c.declared, c.name, up.ContentType, c.want)
		}
		r := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+up.ID, "", "", nil))
		if got := r.Header.Get("Content-Type"); r.StatusCode != http.StatusOK || got != c.want {
			t.Errorf("download of that upload: %d, Content-Type %q, want %q", r.StatusCode, got, c.want)
		}
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": c.name, "contentType": c.declared})
		if f.ContentType != c.want {
			t.Errorf("file entry with contentType %q named %q: %q, want %q", c.declared, c.name, f.ContentType, c.want)
		}
	}
}
