package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/store"
)

// The delivery of events (docs/behaviour.md §10.4). Each delivery is a job of River's queue
// in this database, inserted in the transaction of its event; the job carries the delivery's
// id only. Every instance runs a dispatcher, and River hands each job to one of them at a time
// (SELECT … FOR UPDATE SKIP LOCKED), so a job runs again only after it failed, or after the
// instance running it died. A delivery that answered 2xx is marked in its row before its job
// completes, and a job whose delivery is marked does nothing: a second POST of one event
// happens only when an instance dies between the endpoint's answer and that mark.

// queueName is the River queue of the deliveries.
const queueName = "fileshare_webhooks"

// Options tune the dispatcher.
type Options struct {
	// Store is the instance's database: the job queue's queries and the deliveries' share its
	// pool, within the instance's connection budget (FILESHARE_DB_MAX_CONNS); a delivery holds
	// a connection only for each of its queries, never while it waits for an endpoint. The
	// queue listens for new jobs on the store's session pool, or polls without one (queue.go).
	Store *store.Store
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
	// PerTenant is how many of them may go to one tenant's endpoints at once (default 4), so
	// that a tenant whose endpoints hang holds at most that many workers and no other tenant's
	// delivery waits behind them (FILESHARE_WEBHOOK_TENANT_CONCURRENCY).
	PerTenant int
	// BacklogInterval is how often the queue depth metrics are read (default 5 s).
	BacklogInterval time.Duration
	// DisableAfter is how long every attempt to an endpoint must have failed, with no 2xx,
	// before it is disabled (default DisableAfter).
	DisableAfter time.Duration
}

// DisableAfter is how long an endpoint may fail, every attempt, before it is disabled: longer
// than the retries of one delivery (about 30 h), so that only an endpoint gone for days is.
const DisableAfter = 5 * 24 * time.Hour

func (o *Options) defaults() {
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
	if o.PerTenant <= 0 {
		o.PerTenant = 4
	}
	if o.BacklogInterval <= 0 {
		o.BacklogInterval = 5 * time.Second
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = DisableAfter
	}
}

// Dispatcher delivers the events of every tenant: the background worker of an instance.
type Dispatcher struct {
	lifecycle.Runner
	// TestSignals are the points of the deliveries that tests wait for (off unless Init).
	TestSignals TestSignals

	opt     Options
	log     *slog.Logger
	metrics *Metrics
	http    *http.Client

	mu     sync.Mutex
	st     *store.Store // while running
	outbox *Outbox      // on st: the webhook.disabled events

	endpointsMu sync.Mutex
	endpoints   map[uuid.UUID]*endpoint
	tenants     map[int64]*endpoint // the places of each tenant's deliveries, under endpointsMu
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
	return &Dispatcher{Runner: lifecycle.Runner{Name: "webhooks"}, opt: opt, log: log, metrics: m, http: client, endpoints: map[uuid.UUID]*endpoint{}, tenants: map[int64]*endpoint{}}
}

// TestSignals are the points of the deliveries that a test can wait for.
type TestSignals struct {
	// AttemptRecorded is signalled once an attempt is recorded in the delivery log.
	AttemptRecorded testsignal.Signal[RecordedAttempt]
}

// Init turns the signals on; call it before Start.
func (s *TestSignals) Init() { s.AttemptRecorded.Init() }

// RecordedAttempt is what the AttemptRecorded signal says of an attempt.
type RecordedAttempt struct {
	WebhookID, EventID uuid.UUID
	// Status is the endpoint's answer; 0 when there was none.
	Status    int
	Delivered bool
}

// Start connects to the database and delivers events, in the background, until Stop or the
// end of ctx. The database must hold the job queue's tables (`fileshare migrate up`). Stop
// returns once the deliveries in flight have ended (each within the attempt timeout) and the
// queue's listener, if any, is closed.
func (d *Dispatcher) Start(ctx context.Context) error {
	return d.Runner.Start(ctx, d.setup)
}

func (d *Dispatcher) setup(ctx context.Context, g *lifecycle.Group) error {
	st := d.opt.Store
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliverWorker{d: d}); err != nil {
		return err
	}
	driver, pollOnly := queueDriver(st)
	client, err := river.NewClient(driver, &river.Config{
		Schema:      store.QueueSchema,
		PollOnly:    pollOnly,
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
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	d.mu.Lock()
	d.st, d.outbox = st, NewOutbox(st, d.metrics)
	d.mu.Unlock()
	// Jobs run under a context of their own: a stop lets them finish (run bounds it).
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	g.Go(func(ctx context.Context) { d.run(ctx, client, st) })
	return nil
}

// run refreshes the backlog metrics until ctx ends, then stops the queue client: in-flight
// deliveries get the attempt timeout to finish, then are cancelled (and retried later, by any
// instance).
func (d *Dispatcher) run(ctx context.Context, client *river.Client[pgx.Tx], st *store.Store) {
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
			d.http.CloseIdleConnections()
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) refreshBacklog(ctx context.Context, st *store.Store) {
	if d.metrics == nil || ctx.Err() != nil {
		return
	}
	pending, oldest, err := st.Deliveries().Backlog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook dispatcher: reading the backlog failed", "err", err)
		}
		return
	}
	d.metrics.backlog(pending, oldest)
}
