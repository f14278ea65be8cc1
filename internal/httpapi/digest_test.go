package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

// digestField is a Content-Digest member: algorithm=:base64 of sum:.
func digestField(alg string, sum []byte) string {
	return alg + "=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// Content digests (RFC 9530) on every upload route: a matching digest stores, a wrong or
// malformed one of a known algorithm answers 400 digest mismatch and stores nothing, an
// unknown algorithm alone is ignored. Every download answer carries Repr-Digest.
func TestContentDigests(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := []byte("the bytes whose digest counts")
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	other := sha256.Sum256([]byte("other bytes"))
	right := digestField("sha-256", s256[:])
	cases := []struct {
		what, field string
		stored      bool
	}{
		{"sha-256 right", right, true},
		{"sha-512 right", digestField("sha-512", s512[:]), true},
		{"both right", right + ", " + digestField("sha-512", s512[:]), true},
		{"unknown algorithm only", "md5=:" + base64.StdEncoding.EncodeToString(make([]byte, 16)) + ":", true},
		{"sha-256 wrong", digestField("sha-256", other[:]), false},
		{"sha-512 wrong, sha-256 right", right + ", " + digestField("sha-512", make([]byte, 64)), false},
		{"sha-256 malformed", "sha-256=:not base64!:", false},
		{"sha-256 of the wrong length", digestField("sha-256", s256[:16]), false},
		{"sha-256 without colons", "sha-256=" + base64.StdEncoding.EncodeToString(s256[:]), false},
	}
	for _, tc := range cases {
		// POST /uploads.
		body, ctype := testutil.Multipart(t, testutil.FilePart("d.txt", data))
		req := e.NewRequest(http.MethodPost, "/uploads", sessAlice, sessPW, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Content-Digest", tc.field)
		r := e.Do(req)
		if tc.stored && r.StatusCode != http.StatusCreated {
			t.Errorf("POST /uploads, %s: %d %s", tc.what, r.StatusCode, r.Body)
		}
		if !tc.stored {
			testutil.WantError(t, r, http.StatusBadRequest, "digest mismatch")
		}

		// PUT of a file entry, raw and multipart.
		s := sessCreateSession(t, e, sessAlice, nil)
		for _, multi := range []bool{false, true} {
			f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "d.txt"})
			var req *http.Request
			if multi {
				body, ctype := testutil.Multipart(t, testutil.FilePart("d.txt", data))
				req = e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, sessAlice, sessPW, bytes.NewReader(body))
				req.Header.Set("Content-Type", ctype)
			} else {
				req = e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, sessAlice, sessPW, bytes.NewReader(data))
			}
			req.Header.Set("Content-Digest", tc.field)
			r := e.Do(req)
			if tc.stored && r.StatusCode != http.StatusOK {
				t.Errorf("PUT (multipart %v), %s: %d %s", multi, tc.what, r.StatusCode, r.Body)
			}
			if !tc.stored {
				testutil.WantError(t, r, http.StatusBadRequest, "digest mismatch")
				// Nothing stored: the entry is pending and takes the right content.
				if r := sessPut(t, e, sessAlice, s.ID, f.ID, data); r.StatusCode != http.StatusOK {
					t.Errorf("PUT after a refused digest: %d %s", r.StatusCode, r.Body)
				}
			}
		}
	}
	// Refused uploads left nothing: one blob per stored upload and entry.
	want := 0
	for _, tc := range cases {
		if tc.stored {
			want += 3
		} else {
			want += 2 // the PUTs that followed the refusals
		}
	}
	if got := len(testutil.BlobFiles(t, e.DataDir)); got != want {
		t.Errorf("%d blobs, want %d: a refused upload left its blob", got, want)
	}

	// Repr-Digest on every download answer.
	a := upCreate(e, sessAlice, sessPW, testutil.FilePart("d.txt", data))
	wantRepr := digestField("sha-256", s256[:])
	for _, hdr := range [][]string{nil, {"Range", "bytes=2-5"}} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r := upGet(e, m, "/uploads/"+a.ID, hdr...)
			if got := r.Header.Get("Repr-Digest"); got != wantRepr {
				t.Errorf("%s /uploads %v: %d Repr-Digest %q, want %q", m, hdr, r.StatusCode, got, wantRepr)
			}
		}
	}
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "d.txt", data)
	tok := testutil.Decode[sessToken](t, sessCall(t, e, http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", sessAlice, nil), http.StatusCreated)
	// Before the consumption nothing identifies the content: no digest on HEAD; the consuming
	// answer carries it.
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		want := wantRepr
		if m == http.MethodHead {
			want = ""
		}
		r := e.Do(e.NewRequest(m, tok.URL[len(e.URL):], "", "", nil))
		if r.StatusCode != http.StatusOK || r.Header.Get("Repr-Digest") != want {
			t.Errorf("%s of a token: %d Repr-Digest %q, want %q", m, r.StatusCode, r.Header.Get("Repr-Digest"), want)
		}
	}
}
