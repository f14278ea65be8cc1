// Package server assembles fileshare's parts into a running HTTP service.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/coherence"
	"fileshare/internal/config"
	"fileshare/internal/console"
	"fileshare/internal/httpapi"
	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/metrics"
	"fileshare/internal/purge"
	"fileshare/internal/share"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// App is the assembled service.
type App struct {
	Handler http.Handler
	Store   *store.Store
	Blobs   blob.Store
	Service *share.Service
	Authn   *auth.Authenticator
	Purger  *purge.Purger
	Metrics *metrics.Metrics
	// Webhooks delivers the events of the tenants' webhooks (a background worker like Purger).
	Webhooks *webhook.Dispatcher
	// Coherence keeps the instance's in-memory upload rows coherent with the other instances;
	// until it runs, downloads read every row from the database.
	Coherence *coherence.Bus
	// TestSignals are the points of Run that tests wait for (off unless Init).
	TestSignals TestSignals

	log         *slog.Logger
	idleTimeout time.Duration // of keep-alive connections; 0: DefaultIdleTimeout
}

// TestSignals are the points of Run that a test can wait for.
type TestSignals struct {
	// Draining is signalled once the instance no longer accepts connections and is draining
	// the requests in flight.
	Draining testsignal.Signal[struct{}]
}

// Init turns the signals on; call it before Run.
func (s *TestSignals) Init() { s.Draining.Init() }

func observePurge(m *metrics.Metrics, r purge.Result, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.PurgePasses.WithLabelValues(result).Inc()
	m.PurgeDuration.Observe(d.Seconds())
	for kind, n := range map[string]int64{
		"upload":            r.UploadsExpired,
		"tombstone":         r.TombstonesDeleted,
		"session":           r.SessionsExpired,
		"session_tombstone": r.SessionTombstonesDeleted,
		"file":              r.FilesDeleted,
		"download_token":    r.TokensDeleted,
		"upload_url":        r.UploadURLsDeleted,
		"orphan_blob":       r.OrphansRemoved,
		"temp_file":         r.TempFilesRemoved,
		"tus_upload":        r.TusUploadsExpired,
		"staging_area":      r.StagesRemoved,
	} {
		m.PurgeRemoved.WithLabelValues(kind).Add(float64(n))
	}
	m.PurgeBytes.Add(float64(r.UploadBytes + r.FileBytes + r.TusBytes))
}

// blobStartTimeout bounds the start-up check of the blob store (the S3 client retries a
// refused connection for several seconds before it gives up).
const blobStartTimeout = 20 * time.Second

// OpenBlobs opens the configured blob store: the data directory, or the S3 bucket (created
// when missing), failing when it cannot be used. Every command that touches blobs opens them
// here.
func OpenBlobs(ctx context.Context, cfg *config.Config) (blob.Store, error) {
	if !cfg.BlobStoreS3() {
		return blob.NewDisk(cfg.DataDir)
	}
	ctx, cancel := context.WithTimeout(ctx, blobStartTimeout)
	defer cancel()
	opt := blob.S3Options{
		Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket, Prefix: cfg.S3Prefix,
		PathStyle: cfg.S3PathStyle,
	}
	if c := cfg.S3Credentials; c != nil {
		opt.AccessKeyID, opt.SecretAccessKey = c.AccessKeyID, c.SecretAccessKey
	}
	return blob.NewS3(ctx, opt)
}

// New assembles the service on an open store and the configured blob store.
func New(cfg *config.Config, st *store.Store, log *slog.Logger) (*App, error) {
	blobs, err := OpenBlobs(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return Assemble(cfg, st, blobs, log)
}

// Assemble builds the service on an open store and blob store.
func Assemble(cfg *config.Config, st *store.Store, blobs blob.Store, log *slog.Logger) (*App, error) {
	authn, err := auth.New(st, auth.NewSharedLimiter(st))
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	m.RegisterPool(st.Pool)
	wm := webhook.NewMetrics(m.Registry)
	outbox := webhook.NewOutbox(st, wm)
	bus := coherence.New(st, log, coherence.Options{})
	svc := share.New(st, blobs, share.Limits{
		UploadTTL:          config.Seconds(cfg.UploadTTL),
		SessionTTL:         config.Seconds(cfg.SessionTTL),
		MaxTTL:             config.Seconds(cfg.MaxTTL),
		MaxUploadBytes:     cfg.MaxUploadBytes,
		TombstoneRetention: cfg.TombstoneRetention,
		TokenResumeWindow:  cfg.TokenResumeWindow,
		TusExpiry:          cfg.TusExpiry,
		TusMaxUnfinished:   cfg.TusMaxUnfinished,
	}, log, share.WithEvents(outbox), share.WithCoherence(bus))
	m.RegisterUploadCache(svc.UploadCacheLookups)
	m.RegisterGroupCommits(svc.GroupCommits)
	ready := func(ctx context.Context) error {
		if err := st.Ping(ctx); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if err := blobs.Check(ctx); err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		return nil
	}
	var cons *console.Console
	if cfg.Console {
		if cons, err = console.New(console.Deps{
			Service: svc, Authn: authn, Store: st, Log: log, PublicURL: cfg.PublicURL, SessionTTL: cfg.ConsoleSessionTTL,
		}); err != nil {
			return nil, err
		}
	}
	h, err := httpapi.New(httpapi.Deps{
		Service: svc, Authn: authn, Log: log, Metrics: m, Ready: ready,
		Webhooks:  webhook.NewService(st, outbox, cfg.WebhookAllowPrivate),
		PublicURL: cfg.PublicURL, TrustedProxies: cfg.TrustedProxies, CORSOrigins: cfg.CORSOrigins,
		BodyIdleTimeout: cfg.BodyIdleTimeout, BodyMinRate: cfg.BodyMinRate, Console: cons,
	})
	if err != nil {
		return nil, err
	}
	popt := PurgeOptions(cfg)
	popt.Events = outbox
	purger := purge.New(st, blobs, log, popt)
	purger.OnPass = func(r purge.Result, d time.Duration, err error) { observePurge(m, r, d, err) }
	dispatcher := webhook.NewDispatcher(webhook.Options{
		Store: st, Timeout: cfg.WebhookTimeout, AllowPrivate: cfg.WebhookAllowPrivate,
		RetryBase: cfg.WebhookRetryBase, PerTenant: cfg.WebhookTenantConcurrency, DisableAfter: cfg.WebhookDisableAfter,
	}, log, wm)
	return &App{Handler: h, Store: st, Blobs: blobs, Service: svc, Authn: authn, Purger: purger, Metrics: m, Webhooks: dispatcher, Coherence: bus, log: log, idleTimeout: cfg.IdleTimeout}, nil
}

// PurgeOptions are the purge settings of cfg.
func PurgeOptions(cfg *config.Config) purge.Options {
	return purge.Options{
		Interval:           cfg.PurgeInterval,
		TombstoneRetention: cfg.TombstoneRetention,
		OrphanGrace:        cfg.OrphanGrace,
	}
}

// DefaultIdleTimeout is how long an idle keep-alive connection is kept
// (FILESHARE_IDLE_TIMEOUT): long enough for a client's next request, short enough that idle
// connections do not pile up (docs/behaviour.md §7.3).
const DefaultIdleTimeout = 30 * time.Second

// NewHTTPServer returns the http.Server that serve runs h with. Slow-header clients are cut
// by ReadHeaderTimeout and oversized headers answered 431; bodies and downloads may take long
// (large files), so there is no overall read or write timeout: the handlers put every body
// read under an idle deadline and a minimum rate, and every download write under an idle
// deadline.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// drainBound is how long a stop waits for in-flight requests before it closes their
// connections: below the 30 s that process managers commonly allow before they kill.
const drainBound = 20 * time.Second

// StoreOptions are the database settings of cfg: its connection budget (FILESHARE_DB_MAX_CONNS)
// is the store's pool and the sessions of their own together (store.PoolConns).
func StoreOptions(cfg *config.Config) store.Options {
	return store.Options{QueryTimeout: cfg.DBTimeout, Budget: cfg.DBMaxConns, DirectURL: cfg.DatabaseDirectURL}
}

// Serve opens the database, checks its schema, and serves HTTP until ctx is done; then it
// drains in-flight requests, stops the background workers, and returns nil.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, StoreOptions(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Pooled() && !st.Direct() {
		log.Warn("the database URL leads to a connection pooler and no direct URL is set: no upload rows are served from memory and the job queue polls (set FILESHARE_DATABASE_DIRECT_URL)")
	}
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}
	app, err := New(cfg, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	where := []any{"blob_store", "disk", "data_dir", cfg.DataDir}
	if cfg.BlobStoreS3() {
		where = []any{"blob_store", "s3", "s3_endpoint", cfg.S3Endpoint, "s3_bucket", cfg.S3Bucket, "s3_prefix", cfg.S3Prefix}
	}
	log.Info("serving", append([]any{"addr", ln.Addr().String()}, where...)...)
	return app.Run(ctx, ln)
}

// Run serves HTTP on ln, with the instance's background workers, until ctx ends. Then it stops
// in order: it stops accepting connections, drains the requests in flight (within drainBound,
// then cuts their connections), and stops the workers: the cache coherence session first
// (which a deletion in flight needs until the drain is over, or it waits a whole lease), then
// the application passwords' touches (which requests queue), the webhook dispatcher and the
// purge. Run closes ln whatever happens: when a worker cannot start, those started before it
// are stopped and its error is returned.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	// The workers do not end with ctx, whose end begins the shutdown: each is stopped in its
	// turn, in the reverse of this order.
	stopWorkers, err := lifecycle.StartAll(context.WithoutCancel(ctx), a.Purger, a.Webhooks, a.Authn, a.Coherence)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopWorkers()
	srv := NewHTTPServer(a.Handler, a.log)
	if a.idleTimeout > 0 {
		srv.IdleTimeout = a.idleTimeout
	}
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	// Shutdown calls this once the listeners are closed, before it waits for the requests.
	srv.RegisterOnShutdown(func() { a.TestSignals.Draining.Signal(struct{}{}) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // Serve closes ln when it returns
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining in-flight requests", "bound", drainBound.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), drainBound)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// Clients that hold requests open past the bound are cut: a stop must not depend on
		// what clients do.
		a.log.Warn("drain bound reached: closing the remaining connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopWorkers()
	a.log.Info("stopped")
	return nil
}
