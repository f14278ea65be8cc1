package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"fileshare/internal/share"
)

// TestUploadFormLifecycle: an upload form's reader gives its pooled buffer back when finish
// ends, however it ends, and close may follow (the handlers defer it); the fields, name and
// content type outlive it.
func TestUploadFormLifecycle(t *testing.T) {
	const b = "bnd"
	part := func(disposition, content string) string {
		return "--" + b + "\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + content + "\r\n"
	}
	req := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/uploads", strings.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+b)
		return r
	}
	for _, tc := range []struct {
		name, body string
		err        error
	}{
		{"fields after the file", part(`name="a"`, "1") + part(`name="file"; filename="f.txt"`, "content") + part(`name="ttl"`, "60") + "--" + b + "--\r\n", nil},
		{"second file", part(`name="file"; filename="f.txt"`, "content") + part(`name="file"`, "x") + "--" + b + "--\r\n", errOneFile},
		{"cut after the file", part(`name="file"; filename="f.txt"`, "content") + "--" + b + "\r\nContent-Dis", errMalformed},
	} {
		f, err := openForm(req(tc.body))
		if err != nil {
			t.Fatalf("%s: openForm: %v", tc.name, err)
		}
		if data, err := io.ReadAll(f.file); err != nil || string(data) != "content" {
			t.Fatalf("%s: file part %q, %v", tc.name, data, err)
		}
		if err := f.finish(); !errors.Is(err, tc.err) {
			t.Fatalf("%s: finish: %v, want %v", tc.name, err, tc.err)
		}
		if f.mr != nil {
			t.Fatalf("%s: the reader was not released by finish", tc.name)
		}
		f.close()
		if f.name != "f.txt" || f.contentType == "" {
			t.Fatalf("%s: name %q, content type %q after close", tc.name, f.name, f.contentType)
		}
		if tc.err == nil && (f.fields["a"] != "1" || f.fields["ttl"] != "60") {
			t.Fatalf("%s: fields %v", tc.name, f.fields)
		}
	}

	// A form closed before its file part was read to its end (the staging failed) refuses
	// further reads rather than reading a buffer that is back in the pool.
	f, err := openForm(req(part(`name="file"`, strings.Repeat("x", 1<<20)) + "--" + b + "--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.file.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	f.close()
	f.close()
	if _, err := f.file.Read(make([]byte, 10)); err == nil {
		t.Fatal("the file part of a closed form can still be read")
	}
	var none *uploadForm
	none.close()

	if _, err := openForm(req("--" + b + "--\r\n")); err != share.ErrFileRequired {
		t.Fatalf("no file part: %v", err)
	}
}
