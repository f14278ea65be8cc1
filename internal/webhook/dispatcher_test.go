package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/config"
	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// The dispatcher is a background worker: Stop cuts a hanging delivery within its bound and
// returns once its deliveries are over, so no attempt follows it, and the goroutines of its
// queue client and HTTP connections end with it; it starts again, once however often Start is
// called, and the end of its context stops it too.
func TestDispatcherStartsAndStops(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	e := testutil.NewEnv(t, func(c *config.Config) {
		c.WebhookAllowPrivate = true
		c.WebhookTimeout = timeout
		c.WebhookRetryBase = 50 * time.Millisecond
	})
	e.AddUser("alice@acme", "pw")
	var hang atomic.Bool
	hang.Store(true)
	arrived := make(chan struct{}, 100)
	var requests atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to its end, the body lets the server notice the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		arrived <- struct{}{}
		if hang.Load() {
			<-r.Context().Done() // until the dispatcher cuts it
		}
	}))
	t.Cleanup(rc.Close)
	if r := e.Call(http.MethodPost, "/webhooks", "alice@acme", "pw", map[string]any{"url": rc.URL}); r.StatusCode != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.StatusCode, r.Body)
	}
	d := e.App.Webhooks
	d.TestSignals.Init()
	t.Cleanup(d.Stop) // before the receiver closes, on a failure
	d.Stop()          // never started: nothing to do
	for range 2 {
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	body, ctype := testutil.Multipart(t, testutil.FilePart("a.txt", []byte("a")))
	req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if r := e.Do(req); r.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.StatusCode, r.Body)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery attempt")
	}
	start := time.Now()
	d.Stop()
	if took := time.Since(start); took > timeout+5*time.Second {
		t.Errorf("Stop took %s", took)
	}
	lifecycletest.NoGoroutines(t, &d.Runner)
	if a := d.TestSignals.AttemptRecorded.Wait(t, time.Second); a.Status != 0 || a.Delivered {
		t.Errorf("the cut attempt was recorded as %+v", a)
	}
	// Its goroutines are gone: nothing can make an attempt now.
	n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`)
	if got := requests.Load(); got != 1 || n != 1 {
		t.Fatalf("%d requests, %d attempts recorded, want 1 and 1", got, n)
	}
	d.Stop()

	// Started again, it retries the delivery, which now gets its answer; the end of its
	// context stops it.
	hang.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d.TestSignals.AttemptRecorded.WaitUntil(t, 10*time.Second, func(a webhook.RecordedAttempt) bool { return a.Delivered })
	cancel()
	d.Wait()
	lifecycletest.NoGoroutines(t, &d.Runner)
}
