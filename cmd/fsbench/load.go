package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client is shared by all measurements: keep-alive, enough idle connections for 32 workers.
var client = &http.Client{Transport: &http.Transport{
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 256,
	DisableCompression:  true,
	WriteBufferSize:     256 << 10,
	ReadBufferSize:      256 << 10,
}}

// pattern is 1 MiB of random bytes that large bodies repeat: incompressible, and cheap to make.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
}()

// patternReader yields n bytes of the pattern.
type patternReader struct{ left int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := copy(p, pattern[int(r.left%int64(len(pattern))):])
	if int64(n) > r.left {
		n = int(r.left)
	}
	r.left -= int64(n)
	return n, nil
}

// rss reads a process' resident set size in bytes from /proc.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakRSS samples pid's RSS until stop is closed and returns the largest value seen.
func peakRSS(pid int, stop <-chan struct{}) <-chan int64 {
	return peakOf(5*time.Millisecond, func() int64 { return rss(pid) }, stop)
}

// peakOf calls sample every period until stop is closed and returns the largest value seen.
func peakOf(period time.Duration, sample func() int64, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if v := sample(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// loadResult is what a closed-loop load run measured.
type loadResult struct {
	Requests int
	Errors   int
	Duration time.Duration
	P50, P99 time.Duration
}

func (l loadResult) RPS() float64 { return float64(l.Requests) / l.Duration.Seconds() }

// load runs workers closed-loop for d; each call of op is one request, timed.
func load(workers int, d time.Duration, op func(worker, i int) error) loadResult {
	deadline := time.Now().Add(d)
	return loadWhile(workers, func() bool { return time.Now().Before(deadline) }, op)
}

// loadWhile runs workers closed-loop while more() holds.
func loadWhile(workers int, more func() bool, op func(worker, i int) error) loadResult {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for i := 0; more(); i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	r := loadResult{Requests: len(lat), Errors: errs, Duration: time.Since(start)}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)/2]
		r.P99 = lat[(len(lat)-1)*99/100]
	}
	return r
}

// get fetches url and discards the body, failing on a non-2xx answer.
func get(url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }

// do sends req and reads the whole answer.
func do(req *http.Request) ([]byte, int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

func jsonBody(s string) io.Reader { return bytes.NewReader([]byte(s)) }

func loadRow(name string, fsR, ngR []loadResult, target float64) result {
	var fsRPS, ngRPS, fsP99, ngP99 []float64
	errs := 0
	for _, r := range fsR {
		fsRPS = append(fsRPS, r.RPS())
		fsP99 = append(fsP99, float64(r.P99.Microseconds())/1000)
		errs += r.Errors
	}
	for _, r := range ngR {
		ngRPS = append(ngRPS, r.RPS())
		ngP99 = append(ngP99, float64(r.P99.Microseconds())/1000)
	}
	m, n := median(fsRPS), median(ngRPS)
	res := result{Name: name, Unit: "req/s", Fileshare: m, Runs: fsRPS,
		Note: fmt.Sprintf("p99 %.2f ms (nginx %.2f ms); %d errors", median(fsP99), median(ngP99), errs)}
	if n > 0 {
		res.Nginx, res.Ratio, res.NginxRuns = n, m/n, ngRPS
		res.Target = fmt.Sprintf("≥%.1f× nginx", target)
		res.Met = boolp(m/n >= target && errs == 0)
	}
	return res
}

// loadUntil runs workers closed-loop until done is closed.
func loadUntil(workers int, done <-chan struct{}, op func() error) loadResult {
	var stop atomic.Bool
	go func() { <-done; stop.Store(true) }()
	return loadWhile(workers, func() bool { return !stop.Load() }, func(int, int) error { return op() })
}
