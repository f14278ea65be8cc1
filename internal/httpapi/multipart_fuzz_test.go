package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"fileshare/internal/blob"
	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// The helpers of this file and of hostile_test.go start with "fz" or "ho".

const fzBoundary = "fzb"

// fzBody is a multipart body with the boundary fzBoundary, written by hand so that seeds can
// hold what a well-behaved encoder would never write.
func fzBody(parts ...string) []byte {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + fzBoundary + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + fzBoundary + "--\r\n")
	return []byte(b.String())
}

// fzFile is a part: its Content-Disposition parameters, more header lines, and its content.
func fzFile(disposition, header, content string) string {
	return "Content-Disposition: form-data; " + disposition + "\r\n" + header + "\r\n" + content
}

// fzValidHeaderValue is what an HTTP/1.1 client can put in a header: no control characters
// but tab. The server refuses the rest before any handler runs.
func fzValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzUploadMultipart sends any body to POST /uploads through the real router and a real
// database: the answer is never a 5xx and always matches api/openapi.yaml; a stored upload has
// a safe name, its blob lies inside the data directory and it downloads with safe headers; a
// refused one leaves no row, blob or temp file; nothing is ever written outside the data
// directory.
func FuzzUploadMultipart(f *testing.F) {
	ct := "multipart/form-data; boundary=" + fzBoundary
	for _, s := range []struct {
		ctype string
		body  []byte
	}{
		{ct, fzBody(fzFile(`name="file"; filename="a.txt"`, "Content-Type: text/plain\r\n", "hello"))},
		{ct, fzBody(fzFile(`name="ttl"`, "", "60"), fzFile(`name="file"; filename="../../etc/passwd"`, "", "x"))},
		{ct, fzBody(fzFile(`name="file"; filename="..\\..\\x"`, "", "x"), fzFile(`name="ttl"`, "", "-1"))},
		{ct, fzBody(fzFile(`name="file"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%00.txt`, "", "crlf"))},
		{ct, fzBody(fzFile(`name="file"; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fevil`, "", "dots"))},
		{ct, fzBody(fzFile(`name="file"; filename="a"`, "", "1"), fzFile(`name="file"; filename="b"`, "", "2"))},
		{ct, fzBody(fzFile(`name="file"; filename="big.bin"`, "", strings.Repeat("b", 5000)))},
		{ct, fzBody(fzFile(`name="ttl"`, "", strings.Repeat("9", 2000)), fzFile(`name="file"`, "", "x"))},
		{ct, fzBody(fzFile(`name="file"; filename="t"`, "Content-Type: multipart/mixed; boundary=in\r\n", "--in\r\n\r\nx\r\n--in--"))},
		{ct, fzBody(fzFile(`filename="noname"`, "", "x"), "garbage without a header", "")},
		{ct, fzBody(fzFile(`name="file"; filename="a"`, "", "x"))[:30]},
		{ct, []byte("--" + fzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno closing boundary")},
		{"multipart/form-data", []byte("no boundary")},
		{"multipart/form-data; boundary=\"\"", fzBody()},
		{"application/json", []byte(`{"file":"x"}`)},
		{"", nil},
	} {
		f.Add(s.ctype, s.body)
	}
	// Small limits, so that the fuzzer reaches them.
	e := testutil.NewEnv(f, func(c *config.Config) { c.MaxUploadBytes = 4096 })
	e.AddUser("fuzz@acme", "pw")
	outside := filepath.Dir(e.DataDir)
	outsideBefore := testutil.Entries(f, outside)

	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		if !fzValidHeaderValue(ctype) {
			return
		}
		serve := func(req *http.Request) (*http.Response, []byte) {
			t.Helper()
			rec := httptest.NewRecorder()
			e.App.Handler.ServeHTTP(rec, req)
			res := rec.Result()
			testutil.ValidateResponse(t, req, res, rec.Body.Bytes())
			return res, rec.Body.Bytes()
		}
		req := httptest.NewRequest(http.MethodPost, "/uploads", bytes.NewReader(body))
		req.SetBasicAuth("fuzz@acme", "pw")
		req.Header.Set("Content-Type", ctype)
		res, answer := serve(req)

		switch {
		case res.StatusCode == http.StatusCreated:
			var up struct{ ID, Name, SHA256 string }
			if err := json.Unmarshal(answer, &up); err != nil {
				t.Fatalf("201 %s: %v", answer, err)
			}
			if up.Name == "" || len(up.Name) > 255 || !utf8.ValidString(up.Name) ||
				strings.ContainsAny(up.Name, `/\`) || strings.ContainsFunc(up.Name, unicode.IsControl) {
				t.Fatalf("stored name %q is not a safe file name", up.Name)
			}
			var key string
			if err := e.Store.Pool.QueryRow(context.Background(), "SELECT blob_key FROM uploads WHERE id = $1", up.ID).Scan(&key); err != nil {
				t.Fatal(err)
			}
			if !blob.ValidKey(key) {
				t.Fatalf("blob key %q", key)
			}
			p := filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
			if rel, err := filepath.Rel(filepath.Join(e.DataDir, "blobs"), p); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("blob %s lies outside the data directory", p)
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("blob of a 201: %v", err)
			}
			dl, content := serve(httptest.NewRequest(http.MethodGet, "/uploads/"+up.ID, nil))
			if dl.StatusCode != http.StatusOK || testutil.SHA256(content) != up.SHA256 {
				t.Fatalf("download: %d, sha256 %s, want %s", dl.StatusCode, testutil.SHA256(content), up.SHA256)
			}
			for k, vs := range dl.Header {
				for _, v := range vs {
					if strings.ContainsAny(v, "\r\n\x00") {
						t.Fatalf("download header %s: %q", k, v)
					}
				}
			}
			del := httptest.NewRequest(http.MethodDelete, "/uploads/"+up.ID, nil)
			del.SetBasicAuth("fuzz@acme", "pw")
			if res, b := serve(del); res.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", res.StatusCode, b)
			}
		case res.StatusCode >= 400 && res.StatusCode < 500:
		default:
			t.Fatalf("POST /uploads (Content-Type %q, %d bytes): %d %s", ctype, len(body), res.StatusCode, answer)
		}

		// Whatever happened, nothing is left: the refused upload's blob and temp file were
		// removed before the answer, and the stored one was deleted above.
		if n := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("%d upload rows left after %d %s", n, res.StatusCode, answer)
		}
		for _, d := range []string{"blobs", "tmp"} {
			if left := testutil.Files(t, filepath.Join(e.DataDir, d)); len(left) != 0 {
				t.Fatalf("files left in %s after %d %s: %v", d, res.StatusCode, answer, left)
			}
		}
		if got := testutil.Entries(t, e.DataDir); !slices.Equal(got, []string{"blobs", "tmp"}) {
			t.Fatalf("the data directory holds %v", got)
		}
		if got := testutil.Entries(t, outside); !slices.Equal(got, outsideBefore) {
			t.Fatalf("next to the data directory: %v, before %v", got, outsideBefore)
		}
	})
}
