package webhook_test

// Tests of the delivery of events: retries, receivers that are down or hang, instances that
// stop or run side by side, and the queue the dispatcher works from.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// An instance that stops between the commit and the delivery leaves its events to another
// instance, which delivers them under the same webhook-id.
func TestWebhookAnotherInstanceDeliversWhatAStoppedOneLeft(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc, failing := whFailingReceiver(t, http.StatusInternalServerError)
	hook := whCreate(t, e, whAlice, rc, nil)
	whStart(t, e)
	up := e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return len(rc.requests()) >= 1 })
	e.App.Webhooks.Stop()
	tried := len(rc.requests())
	// Committed while the first instance is stopped, before any instance runs.
	up2 := e.Upload(t, whAlice, "b.txt", []byte("b"))

	twin := e.Twin()
	failing.Store(false)
	whStart(t, twin)
	testutil.Eventually(t, 10*time.Second, "both events delivered by the other instance", func() bool { return len(rc.delivered()) == 2 })
	whQueueDone(t, twin)
	rc.check()
	// The stopped dispatcher made no attempt: every request not answered 200 (every one made
	// before the other instance started) came before the stop, and the second event was sent
	// once, by the other instance.
	refused, second := 0, 0
	for _, d := range rc.requests() {
		if d.Status != http.StatusOK {
			refused++
		}
		if d.Data["uploadId"] == up2.ID {
			second++
		}
	}
	if refused != tried || second != 1 {
		t.Fatalf("after the stop: %d requests refused (%d before it), the second event sent %d times", refused, tried, second)
	}
	ids := map[string]string{}
	for _, d := range rc.requests() {
		up := fmt.Sprint(d.Data["uploadId"])
		if ids[up] != "" && ids[up] != d.ID {
			t.Errorf("upload %s was sent as %s and as %s", up, ids[up], d.ID)
		}
		ids[up] = d.ID
	}
	if ids[up.ID] == "" || ids[up2.ID] == "" {
		t.Fatalf("deliveries %v", ids)
	}
	// The log: the first event failed (500) at least once, then was delivered.
	att := whAttempts(t, twin, whAlice, hook.ID)
	var statuses []int
	for _, a := range att {
		if a.EventID == ids[up.ID] && a.StatusCode != nil {
			statuses = append(statuses, *a.StatusCode)
		}
	}
	sort.Ints(statuses)
	if len(statuses) < 2 || statuses[0] != 200 || statuses[len(statuses)-1] != 500 {
		t.Errorf("attempts of the first event: %v", statuses)
	}
}

// A receiver that is down is retried until it is back, and gets the event once; so is one that
// answers 500 first.
func TestWebhookRetriedUntilTheReceiverAnswers(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, func(n int, _ whDelivery, _ *http.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	hook := whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})
	// The receiver goes down: its address refuses connections.
	addr := rc.srv.Listener.Addr().String()
	rc.srv.Close()
	whStart(t, e)
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "three failed attempts", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE error IS NOT NULL`) >= 3
	})
	for _, a := range whAttempts(t, e, whAlice, hook.ID) {
		if a.StatusCode != nil || a.Error == nil || !strings.Contains(*a.Error, "refused") {
			t.Errorf("attempt while down: %+v", a)
		}
	}
	// The endpoint is failing since its first failed attempt (the count towards disabling it).
	failingSince := `SELECT count(*) FROM webhooks WHERE id = $1 AND failing_since IS NOT NULL`
	if testutil.QueryInt(t, e, failingSince, hook.ID) != 1 {
		t.Error("an endpoint whose attempts fail has no failing_since")
	}
	// Back, on the same address: first 500, then 204.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	back := httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	back.Listener.Close()
	back.Listener = ln
	back.Start()
	t.Cleanup(back.Close)
	testutil.Eventually(t, 15*time.Second, "the delivery once the receiver is back", func() bool { return len(rc.delivered()) == 1 })
	whQueueDone(t, e)
	rc.check()
	if got := rc.requests(); len(got) != 2 || got[0].Status != 500 || got[1].Status != 204 || got[0].ID != got[1].ID {
		t.Errorf("requests once back: %+v", got)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`); n != 1 {
		t.Errorf("%d deliveries marked delivered", n)
	}
	// A 2xx starts the count afresh.
	if testutil.QueryInt(t, e, failingSince, hook.ID) != 0 {
		t.Error("after a 2xx the endpoint is still failing since its first failure")
	}
}

// A receiver that hangs is cut at the timeout and retried; while it hangs, another tenant's
// events are delivered at once.
func TestWebhookHangingReceiverIsCutAndHoldsBackNoOne(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	e := whNewEnv(t, whConfig(timeout))
	var hang atomic.Bool
	hang.Store(true)
	slow := whNewReceiver(t, func(_ int, _ whDelivery, r *http.Request) int {
		if hang.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
		}
		return http.StatusOK
	})
	slowHook := whCreate(t, e, whAlice, slow, []string{webhook.UploadStored})
	fast := whNewReceiver(t, nil)
	whCreate(t, e, whBob, fast, []string{webhook.UploadStored})
	whStart(t, e)

	// More of alice's events than her endpoint may take at once.
	for i := range 12 {
		e.Upload(t, whAlice, fmt.Sprintf("a%d.txt", i), []byte("a"))
	}
	testutil.Eventually(t, 5*time.Second, "alice's endpoint hanging", func() bool { return inFlight(slow) })
	committed := time.Now()
	e.Upload(t, whBob, "b.txt", []byte("b"))
	testutil.Eventually(t, timeout, "bob's event while alice's endpoint hangs", func() bool { return len(fast.delivered()) == 1 })
	if d := time.Since(committed); d > timeout/2 {
		t.Errorf("bob's event took %s while alice's endpoint hung", d)
	}

	// Alice's first attempts are cut at the timeout and logged so.
	testutil.Eventually(t, 3*timeout, "cut attempts", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE webhook_id = $1 AND error IS NOT NULL`, slowHook.ID) > 0
	})
	for _, a := range whAttempts(t, e, whAlice, slowHook.ID) {
		if a.Error == nil || !strings.Contains(*a.Error, "no answer within") || a.DurationMs < int(timeout/time.Millisecond)-100 || a.DurationMs > int(timeout/time.Millisecond)+1500 {
			t.Errorf("hanging attempt %+v", a)
		}
	}
	// Then it answers, and every event arrives, once.
	hang.Store(false)
	testutil.Eventually(t, 20*time.Second, "alice's events after the hang", func() bool { return len(slow.delivered()) == 12 })
	whQueueDone(t, e)
	slow.check()
	fast.check()
}

// Two instances deliver 1,000 events, each exactly once.
func TestWebhookTwoInstancesDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	const events = 1000
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})
	twin := e.Twin()
	whStart(t, e)
	whStart(t, twin)

	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := range 8 {
		inst := e
		if w%2 == 1 {
			inst = twin
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				inst.Upload(t, whAlice, fmt.Sprintf("f%d.txt", i), []byte("x"))
			}
		}()
	}
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
	committed := time.Since(start)
	testutil.Eventually(t, 20*time.Second, "every event delivered", func() bool { return len(rc.delivered()) >= events })
	elapsed := time.Since(start)
	whQueueDone(t, e)
	rc.check()
	got := rc.delivered()
	ids := map[string]bool{}
	lat := make([]time.Duration, 0, len(got))
	for _, d := range got {
		ids[d.ID] = true
		lat = append(lat, d.At.Sub(d.Timestamp))
	}
	if len(ids) != events || len(got) != events {
		t.Fatalf("%d deliveries of %d distinct events, want %d of %d", len(got), len(ids), events, events)
	}
	slices.Sort(lat)
	t.Logf("%d events committed in %s, all delivered after %s (%.0f events/s); commit→delivery p50 %s, p99 %s",
		events, committed.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(events)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond))
}

// The dispatcher is a background worker: it stops on Stop (cutting a hanging delivery within
// its bound) and on its context's end, and makes no attempt once stopped.
func TestWebhookDispatcherStops(t *testing.T) {
	t.Parallel()
	const timeout = 1 * time.Second
	e := whNewEnv(t, whConfig(timeout))
	var answered atomic.Int64
	var hang atomic.Bool
	hang.Store(true)
	rc := whNewReceiver(t, func(_ int, _ whDelivery, r *http.Request) int {
		if hang.Load() {
			<-r.Context().Done() // hangs until cut
		}
		answered.Add(1)
		return http.StatusOK
	})
	whCreate(t, e, whAlice, rc, nil)
	d := e.App.Webhooks
	d.Stop() // not started: nothing to do
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 5*time.Second, "a hanging attempt", func() bool { return answered.Load() > 0 || inFlight(rc) })
	start := time.Now()
	d.Stop()
	if took := time.Since(start); took > timeout+5*time.Second {
		t.Errorf("Stop took %s", took)
	}
	d.Stop() // twice is fine
	n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`)
	// Once stopped, it makes no attempt: the receiver now answers at once, another instance
	// retries the cut delivery, and once its job is done the only attempt after the stop is
	// that instance's.
	hang.Store(false)
	twin := e.Twin()
	whStart(t, twin)
	testutil.Eventually(t, 10*time.Second, "the cut delivery made by another instance", func() bool { return len(rc.delivered()) == 1 })
	whQueueDone(t, twin)
	if m := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`); m != n+1 {
		t.Errorf("%d attempts after Stop, want only the other instance's", m-n)
	}
	rc.check()

	// A context that ends stops it too; then it can be started again.
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { d.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("the dispatcher did not stop with its context")
	}
}

// serve refuses a database whose job queue tables are missing, like one whose goose
// migrations are; migrate up adds them.
func TestWebhookQueueSchemaIsRequired(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	testutil.Exec(t, e, `DROP SCHEMA river CASCADE`)
	testutil.Exec(t, e, `CREATE SCHEMA river`)
	m, err := e.Store.NewMigrator()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.CheckCurrent(context.Background())
	if err == nil || !strings.Contains(err.Error(), "job queue") || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("CheckCurrent without the queue's tables: %v", err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckCurrent(context.Background()); err != nil {
		t.Fatalf("after migrate up: %v", err)
	}
}
