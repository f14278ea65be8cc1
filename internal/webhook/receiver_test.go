package webhook_test

// The receiver the webhook tests deliver to: it checks every signature with the Standard
// Webhooks reference library and the first body of each type against the API document, and
// records what it got.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"fileshare/internal/testutil"
)

// whDelivery is one request a receiver got, its signature verified.
type whDelivery struct {
	ID string
	// Header holds the request's headers, its signatures among them.
	Header    http.Header
	Body      []byte
	Type      string
	Timestamp time.Time
	Data      map[string]any
	At        time.Time
	Status    int
}

// whReceiver is a webhook endpoint that checks every signature with the Standard Webhooks
// reference library (code this project did not write) and records what it got. answer decides
// the status of the n-th request (from 1) of an event; nil answers 200.
type whReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	answer func(n int, d whDelivery, r *http.Request) int

	mu        sync.Mutex
	verifier  *standardwebhooks.Webhook
	all       []whDelivery
	byID      map[string]int
	bad       []string
	validated map[string]bool // the event types whose body was checked against the API document
}

func whNewReceiver(t testing.TB, answer func(n int, d whDelivery, r *http.Request) int) *whReceiver {
	r := &whReceiver{t: t, answer: answer, byID: map[string]int{}, validated: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// use sets the secret the receiver verifies with (the one its webhook was created with).
func (r *whReceiver) use(secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		r.t.Fatalf("secret %q: %v", secret, err)
	}
	r.mu.Lock()
	r.verifier = wh
	r.mu.Unlock()
}

func (r *whReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	verifier := r.verifier
	r.mu.Unlock()
	if err != nil || verifier == nil {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	if err := verifier.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", req.Header.Get("webhook-id"), err))
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	d := whDelivery{ID: req.Header.Get("webhook-id"), Header: req.Header.Clone(), Body: body, At: time.Now()}
	var ev struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s: body %q: %v", d.ID, body, err))
		r.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	d.Type, d.Timestamp, d.Data = ev.Type, ev.Timestamp, ev.Data
	// The first body of each type is held to the API document (a validation costs tens of
	// milliseconds under the race detector: not one per request of a thousand).
	r.mu.Lock()
	first := !r.validated[d.Type]
	r.validated[d.Type] = true
	r.mu.Unlock()
	if first {
		if err := testutil.ValidateWebhookEvent(body); err != nil {
			r.mu.Lock()
			r.bad = append(r.bad, fmt.Sprintf("%s: body %s is not a WebhookEvent of the API document: %v", d.ID, body, err))
			r.mu.Unlock()
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
	}
	r.mu.Lock()
	r.byID[d.ID]++
	n := r.byID[d.ID]
	r.mu.Unlock()
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(n, d, req)
	}
	d.Status = status
	if req.Context().Err() != nil {
		d.Status = 0 // the sender gave up before the answer: not delivered
	}
	r.mu.Lock()
	r.all = append(r.all, d)
	r.mu.Unlock()
	w.WriteHeader(status)
}

// whFailingReceiver is a receiver that answers status until the switch it returns is turned
// off, then 200.
func whFailingReceiver(t testing.TB, status int) (*whReceiver, *atomic.Bool) {
	var failing atomic.Bool
	failing.Store(true)
	return whNewReceiver(t, func(int, whDelivery, *http.Request) int {
		if failing.Load() {
			return status
		}
		return http.StatusOK
	}), &failing
}

// await waits for a delivery (answered 2xx) that match accepts, and returns it.
func (r *whReceiver) await(what string, match func(whDelivery) bool) whDelivery {
	r.t.Helper()
	var got whDelivery
	testutil.Eventually(r.t, 10*time.Second, what, func() bool {
		for _, d := range r.delivered() {
			if match(d) {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// delivered returns the deliveries answered 2xx, in the order they came.
func (r *whReceiver) delivered() []whDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []whDelivery
	for _, d := range r.all {
		if d.Status/100 == 2 {
			out = append(out, d)
		}
	}
	return out
}

func (r *whReceiver) requests() []whDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// check fails the test on any signature or body the receiver refused, and on any event
// delivered (answered 2xx) more than once.
func (r *whReceiver) check() {
	r.t.Helper()
	r.mu.Lock()
	bad := slices.Clone(r.bad)
	r.mu.Unlock()
	if len(bad) > 0 {
		r.t.Errorf("the receiver refused %d requests: %v", len(bad), bad[:min(len(bad), 5)])
	}
	seen := map[string]int{}
	for _, d := range r.delivered() {
		seen[d.ID]++
		if seen[d.ID] == 2 {
			r.t.Errorf("event %s (%s) delivered twice", d.ID, d.Type)
		}
	}
}

// inFlight reports whether the receiver has a request whose handler is still running.
func inFlight(rc *whReceiver) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byID) > len(rc.all)
}
