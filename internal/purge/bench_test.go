package purge_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkPurgePass measures one purge pass over many expired uploads with blobs (100,000 by
// default, FILESHARE_BENCH_PURGE_UPLOADS to change), and the latency of downloads of a live
// upload running meanwhile. It reports seconds per pass and the downloads' p50 and p99.
func BenchmarkPurgePass(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("FILESHARE_BENCH_PURGE_UPLOADS")); err == nil && v > 0 {
		n = v
	}
	e := newEnv(b)
	live := upload(b, e, []byte("a small file that stays"), "")
	for b.Loop() {
		b.StopTimer()
		seedExpired(b, e, n)
		var (
			mu        sync.Mutex
			latencies []time.Duration
			failures  int
		)
		done := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					start := time.Now()
					resp, err := http.Get(e.URL + "/uploads/" + live)
					d := time.Since(start)
					mu.Lock()
					if err != nil || resp.StatusCode != http.StatusOK {
						failures++
					} else {
						latencies = append(latencies, d)
					}
					mu.Unlock()
					if resp != nil {
						resp.Body.Close()
					}
				}
			}()
		}
		b.StartTimer()
		start := time.Now()
		res, err := e.App.Purger.RunOnce(context.Background())
		elapsed := time.Since(start)
		b.StopTimer()
		close(done)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if res.UploadsExpired != int64(n) {
			b.Fatalf("expired %d of %d", res.UploadsExpired, n)
		}
		if failures > 0 {
			b.Fatalf("%d downloads failed during the purge", failures)
		}
		slices.Sort(latencies)
		pct := func(p float64) float64 {
			if len(latencies) == 0 {
				return 0
			}
			return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds()) / 1000
		}
		b.ReportMetric(elapsed.Seconds(), "s/pass")
		b.ReportMetric(float64(n), "uploads")
		b.ReportMetric(pct(0.50), "download-p50-ms")
		b.ReportMetric(pct(0.99), "download-p99-ms")
		b.ReportMetric(float64(len(latencies)), "downloads")
		b.StartTimer()
	}
}
