// Package metrics holds fileshare's Prometheus metrics, on a registry of its own (no global
// state), served at /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts answers by route template (never the raw path), method and status.
	Requests *prometheus.CounterVec
	// Duration observes request latency by route template and method.
	Duration *prometheus.HistogramVec
	// UploadedBytes counts bytes of content stored.
	UploadedBytes prometheus.Counter
	// DownloadedBytes counts bytes of content sent.
	DownloadedBytes prometheus.Counter
	// InFlight gauges transfers in progress, by direction (upload, download).
	InFlight *prometheus.GaugeVec
	// TokenOutcomes counts one-time download attempts by outcome.
	TokenOutcomes *prometheus.CounterVec
	// TokenEvents counts what happened to one-time links: landing page views, consumptions,
	// resumptions, deliveries, wrong PINs, locks and revocations.
	TokenEvents *prometheus.CounterVec
	// PurgePasses counts purge passes by result (ok, error).
	PurgePasses *prometheus.CounterVec
	// PurgeRemoved counts what the purge removed, by kind.
	PurgeRemoved *prometheus.CounterVec
	// PurgeBytes counts the blob bytes the purge freed.
	PurgeBytes prometheus.Counter
	// PurgeDuration observes how long passes take.
	PurgeDuration prometheus.Histogram
}

// New returns the metrics, registered with a new registry together with the Go runtime and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_http_requests_total", Help: "HTTP requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fileshare_http_request_duration_seconds", Help: "HTTP request latency, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"route", "method"}),
		UploadedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fileshare_uploaded_bytes_total", Help: "Bytes of file content stored.",
		}),
		DownloadedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fileshare_downloaded_bytes_total", Help: "Bytes of file content sent.",
		}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fileshare_transfers_in_flight", Help: "Uploads and downloads in progress.",
		}, []string{"direction"}),
		TokenEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_download_token_events_total", Help: "What happened to one-time links: landing, consumed, resumed, delivered, wrong_pin, locked, revoked.",
		}, []string{"event"}),
		TokenOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_download_token_outcomes_total", Help: "One-time download attempts, by outcome.",
		}, []string{"outcome"}),
		PurgePasses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_purge_passes_total", Help: "Purge passes, by result.",
		}, []string{"result"}),
		PurgeRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_purge_removed_total", Help: "Things the purge removed, by kind.",
		}, []string{"kind"}),
		PurgeBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fileshare_purge_freed_bytes_total", Help: "Blob bytes freed by the purge.",
		}),
		PurgeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fileshare_purge_duration_seconds", Help: "Duration of purge passes.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
	}
	r.MustRegister(m.Requests, m.Duration, m.UploadedBytes, m.DownloadedBytes, m.InFlight, m.TokenOutcomes, m.TokenEvents,
		m.PurgePasses, m.PurgeRemoved, m.PurgeBytes, m.PurgeDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, d := range []string{"upload", "download"} {
		m.InFlight.WithLabelValues(d)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveRequest records one answered request. route must come from the route table (or be
// one fixed word for unmatched paths); the method is reduced to MethodLabel, so that no client
// can add series.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	method = MethodLabel(method)
	m.Requests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.Duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// MethodLabel is method when it is one of the methods the service knows, else "other". Any
// token is a valid HTTP method: taken as it is, every made-up one would be a new label value.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// statusLabel bounds the status label to three digits. The statuses are few anyway: only those
// the service's own code writes (no client chooses one), and what net/http answers by itself
// (400, 431, 501, 505) never reaches a handler, so never these metrics.
func statusLabel(s int) string {
	const digits = "0123456789"
	if s < 100 || s > 999 {
		return "other"
	}
	return string([]byte{digits[s/100], digits[s/10%10], digits[s%10]})
}

// RegisterPool exports the database pool's statistics.
func (m *Metrics) RegisterPool(pool *pgxpool.Pool) {
	gauge := func(name, help string, f func(*pgxpool.Stat) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(pool.Stat()) })
	}
	counter := func(name, help string, f func(*pgxpool.Stat) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(pool.Stat()) })
	}
	m.Registry.MustRegister(
		gauge("fileshare_db_pool_connections", "Open database connections.", func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		gauge("fileshare_db_pool_acquired_connections", "Database connections in use.", func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		gauge("fileshare_db_pool_idle_connections", "Idle database connections.", func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		gauge("fileshare_db_pool_max_connections", "Largest size of the pool.", func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		counter("fileshare_db_pool_acquires_total", "Connections acquired from the pool.", func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		counter("fileshare_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		counter("fileshare_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
	)
}

// RegisterUploadCache exports the lookups of the in-memory upload rows that downloads use.
func (m *Metrics) RegisterUploadCache(lookups func() (hits, misses uint64)) {
	counter := func(result string, pick func(hits, misses uint64) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "fileshare_upload_cache_lookups_total",
			Help:        "Downloads of simple uploads that looked for the upload's row in memory, by result (hit: served without a database query).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(pick(lookups())) })
	}
	m.Registry.MustRegister(
		counter("hit", func(h, _ uint64) uint64 { return h }),
		counter("miss", func(_, mi uint64) uint64 { return mi }),
	)
}

// RegisterGroupCommits exports how many uploads were committed together (share.batcher).
func (m *Metrics) RegisterGroupCommits(stats func() (transactions, uploads, failed int64)) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fileshare_upload_group_commits_total",
			Help: "Transactions that committed several simple uploads together.",
		}, func() float64 { t, _, _ := stats(); return float64(t) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fileshare_upload_group_commit_uploads_total",
			Help: "Simple uploads committed in a transaction shared with others.",
		}, func() float64 { _, u, _ := stats(); return float64(u) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fileshare_upload_group_commit_failures_total",
			Help: "Group transactions that failed; their uploads were then committed one by one.",
		}, func() float64 { _, _, f := stats(); return float64(f) }),
	)
}
