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
	st, outbox := d.st, d.outbox
	d.mu.Unlock()
	row, err := st.Deliveries().Get(ctx, job.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the endpoint was deleted, and its deliveries with it
	}
	if err != nil {
		return err
	}
	if row.DeliveredAt != nil || row.FailedAt != nil {
		return nil // delivered by an earlier run whose job did not complete, or given up
	}
	if !row.Enabled {
		// Disabled while this delivery was being queued again (a retry racing the disabling,
		// which gave up the others): a disabled endpoint receives nothing.
		return st.Deliveries().GiveUp(ctx, row.ID)
	}
	// A place of its tenant first, then one at its endpoint: a tenant whose endpoints hang
	// holds at most PerTenant workers, and an endpoint at most PerEndpoint.
	tenant, ep := d.places(row.TenantID, row.WebhookID)
	if !tenant.acquire(ctx) {
		return river.JobSnooze(snoozeFor(tenant, d.opt.Timeout))
	}
	if !ep.acquire(ctx) {
		<-tenant.places
		// Another try once the endpoint's attempts in flight are likely done (a snooze does not
		// count as an attempt).
		return river.JobSnooze(snoozeFor(ep, d.opt.Timeout))
	}
	started := time.Now()
	status, cause := d.post(ctx, row)
	elapsed := time.Since(started)
	ep.observe(elapsed)
	tenant.observe(elapsed)
	<-ep.places
	<-tenant.places
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
	failingSince, err := d.record(ctx, st, params)
	if err != nil {
		// Unrecorded, the job runs again: at least once wins over at most once.
		return fmt.Errorf("recording the attempt: %w", err)
	}
	if !delivered && failingSince != nil && time.Since(*failingSince) >= d.opt.DisableAfter {
		d.disableFailing(ctx, st, outbox, row.WebhookID)
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
// event twice. It runs even when the job's context is done (the instance is stopping). It
// returns since when the endpoint's attempts have failed, before this one (nil: its last
// attempt was a 2xx).
func (d *Dispatcher) record(ctx context.Context, st *store.Store, p store.AttemptRecord) (*time.Time, error) {
	ctx = context.WithoutCancel(ctx)
	var err error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		var r store.RecordedAttempt
		if r, err = st.Deliveries().RecordAttempt(ctx, p); err == nil || !errors.Is(err, store.ErrUnavailable) {
			return r.FailingSince, err
		}
	}
	return nil, err
}

// maxPlaces bounds the entries of the endpoint and tenant maps: past it, the idle ones are
// dropped (an entry is only counts of attempts in flight and a moving average).
const maxPlaces = 4096

// places returns the places of a tenant's deliveries and of an endpoint's.
func (d *Dispatcher) places(tenantID int64, webhookID uuid.UUID) (tenant, ep *endpoint) {
	d.endpointsMu.Lock()
	defer d.endpointsMu.Unlock()
	if len(d.endpoints) > maxPlaces {
		for id, e := range d.endpoints {
			if len(e.places) == 0 {
				delete(d.endpoints, id)
			}
		}
	}
	if len(d.tenants) > maxPlaces {
		for id, e := range d.tenants {
			if len(e.places) == 0 {
				delete(d.tenants, id)
			}
		}
	}
	ep = d.endpoints[webhookID]
	if ep == nil {
		ep = &endpoint{places: make(chan struct{}, d.opt.PerEndpoint)}
		d.endpoints[webhookID] = ep
	}
	tenant = d.tenants[tenantID]
	if tenant == nil {
		tenant = &endpoint{places: make(chan struct{}, d.opt.PerTenant)}
		d.tenants[tenantID] = tenant
	}
	return tenant, ep
}

// snoozeFor is how long a delivery that found no place steps aside: until the attempts in
// flight are likely done, with some jitter.
func snoozeFor(e *endpoint, timeout time.Duration) time.Duration {
	wait := min(max(2*time.Duration(e.took.Load()), 100*time.Millisecond), timeout)
	return wait + rand.N(wait/2+1)
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
