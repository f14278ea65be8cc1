package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

// BenchmarkSmallDownload is the hot path of a simple link: one 1 KiB download through the real
// router and a real database, over loopback HTTP with keep-alive.
func BenchmarkSmallDownload(b *testing.B) {
	e := testutil.NewEnv(b)
	e.AddUser("alice@acme", "pw")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "small.bin")
	fw.Write(bytes.Repeat([]byte("x"), 1024))
	mw.Close()
	req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := e.Do(req)
	var up struct{ URL string }
	json.Unmarshal(r.Body, &up)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(up.URL)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
