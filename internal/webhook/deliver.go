package webhook

// One attempt of a delivery: the job's delivery read, a place at its endpoint taken, the POST
// made (send.go), the attempt recorded.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"fileshare/internal/store"
)

// deliverWorker runs the delivery jobs.
type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	d *Dispatcher
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return w.d.deliver(ctx, job)
}

// busyWait is how long a delivery waits for a free place at its endpoint before it steps
// aside (is snoozed) and lets the worker take another endpoint's delivery.
const busyWait = 100 * time.Millisecond

// deliver makes one attempt of a delivery.
func (d *Dispatcher) deliver(ctx context.Context, job *river.Job[deliverArgs]) error {
	d.mu.Lock()
	st := d.st
	d.mu.Unlock()
	row, err := st.Deliveries().Get(ctx, job.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the endpoint was deleted, and its deliveries with it
	}
	if err != nil {
		return err
	}
	if row.DeliveredAt != nil || row.FailedAt != nil {
		return nil // delivered by an earlier run whose job did not complete
	}
	ep := d.endpoint(row.WebhookID)
	if !ep.acquire(ctx) {
		// Another try once the endpoint's attempts in flight are likely done (a snooze does not
		// count as an attempt).
		wait := min(max(2*time.Duration(ep.took.Load()), 100*time.Millisecond), d.opt.Timeout)
		return river.JobSnooze(wait + rand.N(wait/2+1))
	}
	started := time.Now()
	status, cause := d.post(ctx, row)
	elapsed := time.Since(started)
	ep.observe(elapsed)
	<-ep.places
	delivered := status >= 200 && status < 300
	giveUp := !delivered && job.Attempt >= job.MaxAttempts
	outcome := outcomeOf(status, cause)
	d.metrics.attempt(outcome, elapsed, giveUp)
	params := store.AttemptRecord{
		DeliveryID: row.ID, StartedAt: started, DurationMs: int32(min(elapsed.Milliseconds(), 1<<31-1)),
		Delivered: delivered, GiveUp: giveUp,
	}
	if status != 0 {
		code := int32(status)
		params.StatusCode = &code
	}
	if cause != nil {
		msg := cause.Error()
		params.Error = &msg
	}
	if err := d.record(ctx, st, params); err != nil {
		// Unrecorded, the job runs again: at least once wins over at most once.
		return fmt.Errorf("recording the attempt: %w", err)
	}
	d.TestSignals.AttemptRecorded.Signal(RecordedAttempt{WebhookID: row.WebhookID, EventID: row.EventID, Status: status, Delivered: delivered})
	attrs := []any{"webhook_id", row.WebhookID, "event_id", row.EventID, "type", row.Type, "attempt", job.Attempt, "status", status, "duration_ms", elapsed.Milliseconds()}
	switch {
	case delivered:
		d.metrics.delivered(row.EventCreatedAt)
		d.log.Debug("webhook delivered", attrs...)
		return nil
	case giveUp:
		d.log.Warn("webhook delivery given up after its last retry", append(attrs, "err", cause)...)
	default:
		d.log.Info("webhook delivery failed; it will be retried", append(attrs, "err", cause)...)
	}
	if cause != nil {
		return cause
	}
	return fmt.Errorf("endpoint answered %d", status)
}

// record logs an attempt, trying again briefly: losing the record of a 2xx would deliver the
// event twice. It runs even when the job's context is done (the instance is stopping).
func (d *Dispatcher) record(ctx context.Context, st *store.Store, p store.AttemptRecord) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		if _, err = st.Deliveries().RecordAttempt(ctx, p); err == nil || !errors.Is(err, store.ErrUnavailable) {
			return err
		}
	}
	return err
}

func (d *Dispatcher) endpoint(webhookID uuid.UUID) *endpoint {
	d.endpointsMu.Lock()
	defer d.endpointsMu.Unlock()
	ep := d.endpoints[webhookID]
	if ep == nil {
		ep = &endpoint{places: make(chan struct{}, d.opt.PerEndpoint)}
		d.endpoints[webhookID] = ep
	}
	return ep
}

// acquire takes one of the endpoint's places, waiting a little for one; the holder gives it
// back (<-ep.places) as soon as its request is done.
func (ep *endpoint) acquire(ctx context.Context) bool {
	t := time.NewTimer(busyWait)
	defer t.Stop()
	select {
	case ep.places <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// endpoint is what an instance knows of one endpoint: its free places, and how long its recent
// attempts took.
type endpoint struct {
	places chan struct{}
	took   atomic.Int64 // moving average of the attempts' durations, ns
}

func (ep *endpoint) observe(d time.Duration) {
	old := ep.took.Load()
	ep.took.Store(old - old/5 + int64(d)/5)
}
