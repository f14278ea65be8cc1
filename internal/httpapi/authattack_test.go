package httpapi_test

// Authentication under attack (issue 7, item 6): response times do not tell which logins
// exist, and a flood of bad passwords cannot take more than a bounded share of CPU and memory.
// Throttling and X-Forwarded-For are covered by auth_test.go. `make stress` runs these tests
// at full size (FILESHARE_STRESS=1) and appends their figures to FILESHARE_STRESS_REPORT.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// The helpers of this file start with "aa".

// aaStress is set by `make stress`: the tests then run their full-size versions.
var aaStress = os.Getenv("FILESHARE_STRESS") == "1"

// aaFigure logs a measured figure and, under `make stress`, appends it to the report.
func aaFigure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := t.Name() + ": " + fmt.Sprintf(format, args...)
	t.Log(line)
	if path := os.Getenv("FILESHARE_STRESS_REPORT"); path != "" && aaStress {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("stress report: %v", err)
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "httpapi: %s\n", line)
	}
}

// aaBehindProxy makes the test client a trusted proxy, so that each request can come from a
// client address of its own (X-Forwarded-For), as from a botnet: the per-address throttle,
// which auth_test.go covers, does not cut the attack short.
func aaBehindProxy(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }

// aaAddr is the i-th made-up client address (a benchmarking range: only ever a header value).
func aaAddr(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250) }

// aaRequest is an authenticated DELETE of an upload that does not exist: 404 once let in.
func aaRequest(e *testutil.Env, login, password string, from int) *http.Request {
	req := e.NewRequest(http.MethodDelete, "/uploads/"+uuid.NewString(), login, password, nil)
	req.Header.Set("X-Forwarded-For", aaAddr(from))
	return req
}

// aaFloodResult is what a flood of bad passwords did to the process.
type aaFloodResult struct {
	Requests                 int
	Elapsed                  time.Duration
	PeakHashing              int64
	HashLimit                int
	HeapSysGrowth, PeakInuse uint64
	CPU                      time.Duration
	LegitimateSlowest        time.Duration
	LegitimateRequests       int
	StatusCounts             map[int]int
}

func aaCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// aaFlood sends the requests bad(0) … bad(n-1) all at once, while a user whose credentials
// are already verified keeps working, and reports the hashing concurrency, the growth of the
// heap, and how the legitimate user fared.
func aaFlood(t *testing.T, e *testutil.Env, n int, bad func(i int) *http.Request, legit func() *http.Request) aaFloodResult {
	t.Helper()
	// The legitimate user is verified once before the flood; from then on it costs no hash.
	if r := e.Do(legit()); r.StatusCode != http.StatusNotFound {
		t.Fatalf("legitimate user before the flood: %d %s", r.StatusCode, r.Body)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: n}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Minute}
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = bad(i)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peakInuse, peakSys atomic.Uint64
	sampleDone := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakInuse.Store(max(peakInuse.Load(), m.HeapInuse))
			peakSys.Store(max(peakSys.Load(), m.HeapSys))
			select {
			case <-sampleDone:
				return
			case <-tick.C:
			}
		}
	})

	cpu0, start := aaCPU(), time.Now()
	statuses := make([]int, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-release
			resp, err := client.Do(reqs[i])
			if err != nil {
				t.Errorf("bad request %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(release)

	// While the flood is being hashed, the legitimate user is let in without waiting for it.
	res := aaFloodResult{Requests: n}
	floodDone := make(chan struct{})
	go func() { wg.Wait(); close(floodDone) }()
	for waiting := true; waiting; {
		select {
		case <-floodDone:
			waiting = false
		default:
			t0 := time.Now()
			if r := e.Do(legit()); r.StatusCode != http.StatusNotFound {
				t.Errorf("legitimate user during the flood: %d %s", r.StatusCode, r.Body)
			}
			res.LegitimateSlowest = max(res.LegitimateSlowest, time.Since(t0))
			res.LegitimateRequests++
			select {
			case <-floodDone:
				waiting = false
			case <-time.After(50 * time.Millisecond): // the user's pace
			}
		}
	}
	res.Elapsed, res.CPU = time.Since(start), aaCPU()-cpu0
	close(sampleDone)
	sampler.Wait()

	res.StatusCounts = map[int]int{}
	for _, s := range statuses {
		res.StatusCounts[s]++
	}
	now, peak, limit := e.App.Authn.HashConcurrency()
	res.PeakHashing, res.HashLimit = peak, limit
	if now != 0 {
		t.Errorf("%d hashes still in progress after the flood", now)
	}
	if peakSys.Load() > before.HeapSys {
		res.HeapSysGrowth = peakSys.Load() - before.HeapSys
	}
	res.PeakInuse = peakInuse.Load()
	return res
}

// aaCheckFlood fails unless the flood was refused (401 each), never hashed more than the bound
// at once, left the heap bounded and let the legitimate user in within legitBound.
func aaCheckFlood(t *testing.T, r aaFloodResult, legitBound time.Duration) {
	t.Helper()
	aaFigure(t, "%d concurrent bad credentials in %s (%s CPU): answers %v; peak concurrent hashes %d (bound %d); "+
		"HeapSys grew %d MiB (limit 256), peak heap in use %d MiB; legitimate user: %d requests, slowest %s",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.CPU.Round(time.Millisecond), r.StatusCounts, r.PeakHashing, r.HashLimit,
		r.HeapSysGrowth>>20, r.PeakInuse>>20, r.LegitimateRequests, r.LegitimateSlowest.Round(time.Millisecond))
	if r.StatusCounts[http.StatusUnauthorized] != r.Requests {
		t.Errorf("answers %v, want %d × 401", r.StatusCounts, r.Requests)
	}
	if want := max(2, runtime.GOMAXPROCS(0)); r.HashLimit != want {
		t.Errorf("hash bound %d, want max(2, GOMAXPROCS) = %d", r.HashLimit, want)
	}
	if r.PeakHashing < 1 || r.PeakHashing > int64(r.HashLimit) {
		t.Errorf("peak concurrent hashes %d, want 1 … %d", r.PeakHashing, r.HashLimit)
	}
	if r.HeapSysGrowth > 256<<20 {
		t.Errorf("HeapSys grew by %d MiB during the flood, more than 256 MiB", r.HeapSysGrowth>>20)
	}
	if r.LegitimateRequests == 0 || r.LegitimateSlowest > legitBound {
		t.Errorf("legitimate user during the flood: %d requests, slowest %s", r.LegitimateRequests, r.LegitimateSlowest)
	}
}

// TestBadPasswordFloodIsBounded: 500 concurrent bad credentials, each from an address of its
// own, are all refused, are never hashed more than max(2, GOMAXPROCS) at a time, keep the heap
// bounded, and do not keep out a user whose credentials are already verified.
//
// Under `make test` they are wrong passwords of 50 users hashed with the cheap test parameters
// (50 × 10, below the per-login lock), so that the race detector's slow argon2 stays affordable.
// Under `make stress` half are unknown logins (the dummy hash) and half wrong passwords of 25
// users, all with the production parameters: without the bound that would be 500 × 19 MiB of
// argon2 memory at once.
func TestBadPasswordFloodIsBounded(t *testing.T) {
	t.Parallel()
	const n = 500
	e := testutil.NewEnv(t, aaBehindProxy, func(c *config.Config) {
		// The flood tests the bound on hashing; on a loaded two-core machine the user lookups
		// behind it need more than the production database budget.
		c.DBTimeout = 30 * time.Second
	})
	var bad func(i int) *http.Request
	legitBound := 10 * time.Second
	if aaStress {
		e.AddTenant("acme")
		prod := admin.New(e.Store, auth.DefaultParams)
		for i := range 25 {
			if err := prod.AddUser(context.Background(), fmt.Sprintf("p%02d@acme", i), "production-password"); err != nil {
				t.Fatal(err)
			}
		}
		if err := prod.AddUser(context.Background(), "legit@acme", "legit-pw"); err != nil {
			t.Fatal(err)
		}
		bad = func(i int) *http.Request {
			if i%2 == 0 {
				return aaRequest(e, fmt.Sprintf("nobody%d@acme", i), "guess", i)
			}
			return aaRequest(e, fmt.Sprintf("p%02d@acme", (i/2)%25), fmt.Sprintf("bad-%d", i), i)
		}
		// Without the race detector and with nothing else running, the user is never queued
		// behind the flood's hashes (which take some 10 s here).
		legitBound = 3 * time.Second
	} else {
		for i := range 50 {
			e.AddUser(fmt.Sprintf("u%02d@acme", i), "pw")
		}
		e.AddUser("legit@acme", "legit-pw")
		bad = func(i int) *http.Request {
			return aaRequest(e, fmt.Sprintf("u%02d@acme", i%50), fmt.Sprintf("bad-%d", i), i)
		}
		// Under the race detector on a shared machine the legitimate user waits mostly for a
		// database connection behind the flood's user lookups; the bound is loose on purpose.
	}
	r := aaFlood(t, e, n, bad, func() *http.Request { return aaRequest(e, "legit@acme", "legit-pw", 100000) })
	aaCheckFlood(t, r, legitBound)
}
