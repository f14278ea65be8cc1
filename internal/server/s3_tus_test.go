package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"fileshare/internal/testutil"
)

// Resumable uploads on the S3 store: chunks of any size, below S3's 5 MiB minimum part size
// too; termination and the purge of an expired upload leave no staged object and no
// incomplete multipart upload.

func tusReq(e *testutil.Env, method, url, login string, body []byte, header ...string) *http.Request {
	var req *http.Request
	if body != nil {
		req = e.NewRequest(method, url, login, password, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	} else {
		req = e.NewRequest(method, url, login, password, nil)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func tusNew(t *testing.T, e *testutil.Env, length int) string {
	t.Helper()
	r := e.Do(tusReq(e, http.MethodPost, "/tus", login, nil, "Upload-Length", strconv.Itoa(length)))
	wantStatus(t, r, http.StatusCreated, "POST /tus")
	return r.Header.Get("Location")
}

func tusSend(t *testing.T, e *testutil.Env, url string, offset int, data []byte) {
	t.Helper()
	r := e.Do(tusReq(e, http.MethodPatch, url, "", data, "Upload-Offset", strconv.Itoa(offset)))
	wantStatus(t, r, http.StatusNoContent, "PATCH at "+strconv.Itoa(offset))
	if got := r.Header.Get("Upload-Offset"); got != strconv.Itoa(offset+len(data)) {
		t.Fatalf("PATCH at %d: offset %s", offset, got)
	}
}

// staged lists the staging objects and incomplete multipart uploads of bucket.
func staged(t *testing.T, m *testutil.MinIO, bucket string) []string {
	t.Helper()
	var out []string
	for _, o := range m.Objects(t, bucket) {
		if strings.HasPrefix(o, "t/") {
			out = append(out, o)
		}
	}
	for _, u := range m.IncompleteUploads(t, bucket) {
		out = append(out, "incomplete upload of "+u)
	}
	return out
}

func TestTusOnS3(t *testing.T) {
	t.Parallel()
	e, m, bucket, _ := newS3Env(t)
	twin := e.Twin()
	data := testutil.RandomBytes(t, 13<<20+5)
	url := tusNew(t, e, len(data))
	// Chunks of 1 MiB (tails only), 7 MiB (a part from a tail), 300 KiB, the rest; every other
	// one on the second instance.
	cuts := []int{0, 1 << 20, 2 << 20, 9 << 20, 9<<20 + 300<<10, len(data)}
	for i := 1; i < len(cuts); i++ {
		on := e
		if i%2 == 0 {
			on = twin
		}
		tusSend(t, on, url, cuts[i-1], data[cuts[i-1]:cuts[i]])
	}
	// The upload's own id, which HEAD on the tus URL gives: never the tus id.
	hr := e.NewRequest(http.MethodHead, url, "", "", nil)
	hr.Header.Set("Tus-Resumable", "1.0.0")
	h := e.Do(hr)
	download := h.Header.Get("Fileshare-Upload-Url")
	if download == "" || strings.HasSuffix(download, url[strings.LastIndexByte(url, '/'):]) {
		t.Fatalf("Fileshare-Upload-Url %q of %s", download, url)
	}
	r := e.Do(e.NewRequest(http.MethodGet, strings.TrimPrefix(download, e.URL), "", "", nil))
	if !bytes.Equal(r.Body, data) {
		t.Fatalf("download: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	if left := staged(t, m, bucket); len(left) != 0 {
		t.Errorf("left after completion: %v", left)
	}

	// Terminated with a part and a tail staged: nothing left.
	url = tusNew(t, e, 20<<20)
	tusSend(t, e, url, 0, data[:6<<20])
	tusSend(t, e, url, 6<<20, data[6<<20:7<<20])
	if left := staged(t, m, bucket); len(left) < 3 {
		t.Fatalf("staged: %v, want a marker, a tail and a multipart upload", left)
	}
	wantStatus(t, e.Do(tusReq(e, http.MethodDelete, url, "", nil)), http.StatusNoContent, "DELETE")
	if left := staged(t, m, bucket); len(left) != 0 {
		t.Errorf("left after termination: %v", left)
	}

	// Expired and purged: nothing left either.
	url = tusNew(t, e, 20<<20)
	tusSend(t, e, url, 0, data[:6<<20+1])
	if _, err := e.Store.Pool.Exec(context.Background(),
		`UPDATE tus_uploads SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day'`); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.Do(tusReq(e, http.MethodHead, url, "", nil)), http.StatusGone, "HEAD of the expired upload")
	res, err := e.App.Purger.RunOnce(context.Background())
	if err != nil || res.TusUploadsExpired != 1 {
		t.Fatalf("purge: %+v, %v", res, err)
	}
	if left := staged(t, m, bucket); len(left) != 0 {
		t.Errorf("left after the purge: %v", left)
	}
}
