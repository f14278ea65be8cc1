package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// webhooks measures event delivery: small uploads under load, each an upload.stored event for
// an endpoint on loopback, reporting the events delivered per second and the time from each
// upload's commit (the event's timestamp) to its arrival.
func (b *bench) webhooks() []result {
	var (
		mu      sync.Mutex
		arrived = map[string]time.Duration{}
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Timestamp time.Time }
		json.Unmarshal(body, &ev)
		mu.Lock()
		if _, dup := arrived[r.Header.Get("webhook-id")]; !dup {
			arrived[r.Header.Get("webhook-id")] = time.Since(ev.Timestamp)
		}
		mu.Unlock()
	}))
	defer rc.Close()
	var hook struct{ ID string }
	b.mustJSON(b.req(http.MethodPost, b.fs.URL+"/webhooks", jsonBody(`{"url":"`+rc.URL+`","events":["upload.stored"]}`)), http.StatusCreated, &hook)
	defer b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/webhooks/"+hook.ID, nil), http.StatusNoContent, nil)

	small := bytes.Repeat([]byte("w"), kib)
	var rates, p99s, p50s []float64
	for i := 0; i < b.o.runs; i++ {
		mu.Lock()
		clear(arrived)
		mu.Unlock()
		start := time.Now()
		l := load(b.o.workers, b.o.smallFor, func(int, int) error {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "w.bin")
			fw.Write(small)
			mw.Close()
			r := b.req(http.MethodPost, b.fs.URL+"/uploads", &buf)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			_, code, err := do(r)
			if err == nil && code != http.StatusCreated {
				err = &statusError{code}
			}
			return err
		})
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			n := len(arrived)
			mu.Unlock()
			if n >= l.Requests || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		mu.Lock()
		lat := make([]float64, 0, len(arrived))
		for _, d := range arrived {
			lat = append(lat, d.Seconds()*1000)
		}
		mu.Unlock()
		slices.Sort(lat)
		rates = append(rates, float64(len(lat))/elapsed.Seconds())
		if len(lat) > 0 {
			p50s = append(p50s, lat[len(lat)/2])
			p99s = append(p99s, lat[(len(lat)-1)*99/100])
		}
	}
	return []result{
		{Name: "webhook events delivered (1 KiB uploads under load)", Unit: "events/s", Fileshare: median(rates), Runs: rates, Target: "report"},
		{Name: "webhook commit → delivery, p50", Unit: "ms", Fileshare: median(p50s), Runs: p50s, Target: "report"},
		{Name: "webhook commit → delivery, p99", Unit: "ms", Fileshare: median(p99s), Runs: p99s, Target: "report"},
	}
}
