package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
)

// The delivery of events (docs/behaviour.md §10.4). Each delivery is a job of River's queue
// in this database, inserted in the transaction of its event; the job carries the delivery's
// id only. Every instance runs a dispatcher, and River hands each job to one of them at a time
// (SELECT … FOR UPDATE SKIP LOCKED), so a job runs again only after it failed, or after the
// instance running it died. A delivery that answered 2xx is marked in its row before its job
// completes, and a job whose delivery is marked does nothing: a second POST of one event
// happens only when an instance dies between the endpoint's answer and that mark.

const (
	queueName = "fileshare_webhooks"
	// maxAttempts spreads the retries over more than a day with the default back-off (5 s,
	// doubling, at most 6 h apart): the 17th attempt comes about 30 h after the first.
	maxAttempts = 17
	// maxBackoff caps the wait between two attempts.
	maxBackoff = 6 * time.Hour
	// answerLimit is how much of an answer's body is read (and dropped) before the connection
	// is reused.
	answerLimit = 64 << 10
)

// Options tune the dispatcher.
type Options struct {
	// DatabaseURL is the database; the dispatcher opens a pool of its own on it, so that
	// delivery work never waits for, nor holds, a connection of the request path.
	DatabaseURL string
	// MaxConns caps that pool (default 8).
	MaxConns int32
	// DBTimeout bounds each of its database calls (default 5 s).
	DBTimeout time.Duration
	// Timeout bounds one attempt, from the connection to the answer's status (default 10 s).
	Timeout time.Duration
	// AllowPrivate lets deliveries connect to internal addresses.
	AllowPrivate bool
	// RetryBase is the wait after the first failed attempt; it doubles with each failure, up
	// to 6 h (default 5 s).
	RetryBase time.Duration
	// Workers is how many deliveries one instance makes at once (default 32).
	Workers int
	// PerEndpoint is how many of them may go to one endpoint at once (default 8), so that a
	// slow endpoint holds at most that many workers and the others keep going.
	PerEndpoint int
	// BacklogInterval is how often the queue depth metrics are read (default 5 s).
	BacklogInterval time.Duration
}

func (o *Options) defaults() {
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.DBTimeout <= 0 {
		o.DBTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 5 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 8
	}
	if o.BacklogInterval <= 0 {
		o.BacklogInterval = 5 * time.Second
	}
}

// Dispatcher delivers the events of every tenant: the background worker of an instance.
type Dispatcher struct {
	opt     Options
	log     *slog.Logger
	metrics *Metrics
	http    *http.Client

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	st     *store.Store // while running

	endpointsMu sync.Mutex
	endpoints   map[uuid.UUID]*endpoint
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

// NewDispatcher returns a dispatcher; it connects to the database when started. m may be nil.
func NewDispatcher(opt Options, log *slog.Logger, m *Metrics) *Dispatcher {
	opt.defaults()
	dialer := &net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second, Control: dialControl(opt.AllowPrivate)}
	transport := &http.Transport{
		// No proxy from the environment: the address check must apply to the endpoint itself.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opt.Timeout,
		ResponseHeaderTimeout: opt.Timeout,
		MaxIdleConnsPerHost:   opt.PerEndpoint,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   opt.Timeout,
		// A redirect is the endpoint's answer, never followed: it could lead anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Dispatcher{opt: opt, log: log, metrics: m, http: client, endpoints: map[uuid.UUID]*endpoint{}}
}

// Start connects to the database and delivers events until Stop or ctx ends. The database
// must hold the job queue's tables (`fileshare migrate up`).
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return nil
	}
	st, err := store.Open(ctx, d.opt.DatabaseURL, store.Options{QueryTimeout: d.opt.DBTimeout, MaxConns: d.opt.MaxConns})
	if err != nil {
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliverWorker{d: d}); err != nil {
		st.Close()
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(st.Pool), &river.Config{
		Schema:      store.QueueSchema,
		Queues:      map[string]river.QueueConfig{queueName: {MaxWorkers: d.opt.Workers}},
		Workers:     workers,
		MaxAttempts: maxAttempts,
		// Inserts notify the instances, but at most one notification per 100 ms goes out per
		// inserting client; a short poll bounds what falls between them.
		FetchPollInterval: 250 * time.Millisecond,
		RetryPolicy:       retryPolicy{base: d.opt.RetryBase},
		// A job left running by an instance that died is run again after this.
		RescueStuckJobsAfter: d.opt.Timeout + time.Minute,
		JobTimeout:           d.opt.Timeout + 30*time.Second,
		Logger:               slog.New(warnOnly{d.log.With("component", "webhook queue").Handler()}),
	})
	if err != nil {
		st.Close()
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	d.st = st
	// Jobs run under a context of their own: a stop lets them finish (run bounds it).
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		st.Close()
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go d.run(ctx, client, st)
	return nil
}

// run refreshes the backlog metrics until ctx ends, then stops the queue client: in-flight
// deliveries get the attempt timeout to finish, then are cancelled (and retried later, by any
// instance).
func (d *Dispatcher) run(ctx context.Context, client *river.Client[pgx.Tx], st *store.Store) {
	defer close(d.done)
	t := time.NewTicker(d.opt.BacklogInterval)
	defer t.Stop()
	for {
		d.refreshBacklog(ctx, st)
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), d.opt.Timeout+2*time.Second)
			if err := client.Stop(stopCtx); err != nil {
				d.log.Warn("webhook dispatcher: deliveries still running at stop are cancelled", "err", err)
				hard, cancelHard := context.WithTimeout(context.Background(), 5*time.Second)
				_ = client.StopAndCancel(hard)
				cancelHard()
			}
			cancel()
			st.Close()
			return
		case <-t.C:
		}
	}
}

// Stop ends the dispatcher and waits until it has stopped.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.cancel = nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (d *Dispatcher) refreshBacklog(ctx context.Context, st *store.Store) {
	if d.metrics == nil || ctx.Err() != nil {
		return
	}
	b, err := st.Q.WebhookBacklog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook dispatcher: reading the backlog failed", "err", err)
		}
		return
	}
	d.metrics.backlog(b.Pending, b.Oldest)
}

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
	row, err := st.Q.WebhookDeliveryGet(ctx, job.Args.DeliveryID)
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
	params := dbsqlc.WebhookAttemptRecordParams{
		DeliveryID: row.ID, StartedAt: started, DurationMs: int32(min(elapsed.Milliseconds(), 1<<31-1)),
		Delivered: delivered, GiveUp: giveUp,
	}
	if status != 0 {
		params.StatusCode.Int32, params.StatusCode.Valid = int32(status), true
	}
	if cause != nil {
		msg := cause.Error()
		params.Error = &msg
	}
	if err := d.record(ctx, st, params); err != nil {
		// Unrecorded, the job runs again: at least once wins over at most once.
		return fmt.Errorf("recording the attempt: %w", err)
	}
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
func (d *Dispatcher) record(ctx context.Context, st *store.Store, p dbsqlc.WebhookAttemptRecordParams) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		if _, err = st.Q.WebhookAttemptRecord(ctx, p); err == nil || !errors.Is(err, store.ErrUnavailable) {
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

// post sends the event to the endpoint, signed, and returns the answer's status, or why there
// was none. The cause never holds the URL, which may carry a receiver's own credentials in its
// query.
func (d *Dispatcher) post(ctx context.Context, row dbsqlc.WebhookDeliveryGetRow) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	body := []byte(row.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, row.Url, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("invalid url")
	}
	id := row.EventID.String()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fileshare-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", Sign(row.Secret, id, ts, body))
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, describe(err, d.opt.Timeout)
	}
	// The status is the answer; the body is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, answerLimit))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Sign is the Standard Webhooks signature of a delivery: "v1," and the base64 HMAC-SHA256,
// keyed with the secret's bytes, of "{id}.{timestamp}.{body}".
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// describe says why an attempt got no answer, without the URL.
func describe(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, errRefusedAddress):
		var oe *net.OpError
		if errors.As(err, &oe) {
			return oe.Err // "refused address …"
		}
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

func outcomeOf(status int, cause error) string {
	switch {
	case status >= 200 && status < 300:
		return outcomeDelivered
	case status != 0:
		return outcomeStatus
	case errors.Is(cause, errRefusedAddress):
		return outcomeRefused
	}
	return outcomeNoAnswer
}

// retryPolicy waits base after the first failure, doubling with each further one up to
// maxBackoff, each wait ±10 % so that an endpoint that comes back is not hit by every retry at
// the same moment.
type retryPolicy struct{ base time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	wait := backoff(p.base, len(job.Errors)+1)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait + jitter)
}

// backoff is the wait after the failures-th failed attempt, before jitter.
func backoff(base time.Duration, failures int) time.Duration {
	wait := base
	for i := 1; i < failures && wait < maxBackoff; i++ {
		wait *= 2
	}
	return min(wait, maxBackoff)
}

// warnOnly passes on the queue's warnings and errors only: it reports every failed attempt at
// info level, which the dispatcher logs itself.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(a)} }
func (h warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{h.Handler.WithGroup(n)} }
