package main

// The bench: the fileshare and nginx it measures, and the requests its measurements make.

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// tusChunk is the PATCH size of the tus upload measurement.
const tusChunk = 64 << 20

const (
	login    = "bench@bench"
	password = "bench-password"
	kib      = 1 << 10
)

type bench struct {
	o     options
	fs    *fileshareServer
	ng    *nginxServer
	dbURL string
	seq   atomic.Int64
}

func (b *bench) setup() {
	// Warm up both servers' connection pools.
	get(b.fs.URL + "/healthz")
	if b.ng != nil {
		get(b.ng.URL + "/ping")
	}
}

func (b *bench) req(method, url string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		fatalf("%v", err)
	}
	if len(url) >= len(b.fs.URL) && url[:len(b.fs.URL)] == b.fs.URL {
		r.SetBasicAuth(login, password)
	}
	return r
}

func (b *bench) mustJSON(req *http.Request, want int, v any) {
	body, code, err := do(req)
	if err != nil || code != want {
		fatalf("%s %s: %d %v %s", req.Method, req.URL.Path, code, err, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
	}
}

// multipartUpload posts size bytes as a simple upload and returns its id.
func (b *bench) multipartUpload(size int64) string {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "bench.bin")
		if _, err := io.Copy(fw, &patternReader{left: size}); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	r := b.req(http.MethodPost, b.fs.URL+"/uploads", pr)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	var up struct{ ID string }
	b.mustJSON(r, http.StatusCreated, &up)
	return up.ID
}

func (b *bench) newSession() string {
	var s struct{ ID string }
	b.mustJSON(b.req(http.MethodPost, b.fs.URL+"/sessions", nil), http.StatusCreated, &s)
	return s.ID
}

func (b *bench) newFile(sid string, size int64) string {
	var f struct{ ID string }
	r := b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files", jsonBody(fmt.Sprintf(`{"name":"bench.bin","size":%d}`, size)))
	r.Header.Set("Content-Type", "application/json")
	b.mustJSON(r, http.StatusCreated, &f)
	return f.ID
}

func (b *bench) putFile(sid, fid string, size int64) {
	r := b.req(http.MethodPut, b.fs.URL+"/sessions/"+sid+"/files/"+fid, &patternReader{left: size})
	r.ContentLength = size
	b.mustJSON(r, http.StatusOK, nil)
}

// tusUpload sends size bytes as a simple upload through tus, in PATCHes of chunk bytes, the
// way a tus client does, and returns the upload's id.
func (b *bench) tusUpload(size, chunk int64) string {
	r := b.req(http.MethodPost, b.fs.URL+"/tus", nil)
	r.Header.Set("Tus-Resumable", "1.0.0")
	r.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusCreated {
		fatalf("POST /tus: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		p := b.req(http.MethodPatch, loc, &patternReader{left: n})
		p.ContentLength = n
		p.Header.Set("Tus-Resumable", "1.0.0")
		p.Header.Set("Content-Type", "application/offset+octet-stream")
		p.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
		if body, code, err := do(p); err != nil || code != http.StatusNoContent {
			fatalf("PATCH at %d: %d %v %s", off, code, err, body)
		}
	}
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

func (b *bench) token(sid, fid string) string {
	var t struct{ URL string }
	b.mustJSON(b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files/"+fid+"/tokens", nil), http.StatusCreated, &t)
	return t.URL
}

func (b *bench) nginxPut(name string, size int64) {
	r := b.req(http.MethodPut, b.ng.URL+"/"+name, &patternReader{left: size})
	r.ContentLength = size
	_, code, err := do(r)
	if err != nil || code/100 != 2 {
		fatalf("nginx PUT: %d %v", code, err)
	}
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}
