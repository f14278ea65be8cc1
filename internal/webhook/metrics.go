package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the instruments of events and their delivery. A nil *Metrics records nothing.
type Metrics struct {
	events            *prometheus.CounterVec
	attempts          *prometheus.CounterVec
	failures          *prometheus.CounterVec
	givenUp           prometheus.Counter
	disabledEndpoints prometheus.Counter
	depth             prometheus.Gauge
	oldest            prometheus.Gauge
	duration          prometheus.Histogram
	latency           prometheus.Histogram
}

// NewMetrics registers the webhook metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_webhook_events_total", Help: "Events recorded for at least one subscribed endpoint, by type.",
		}, []string{"type"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_webhook_delivery_attempts_total", Help: "Delivery attempts, by outcome: delivered (2xx), status (another answer), no_answer (timeout or connection error), refused (internal address).",
		}, []string{"outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fileshare_webhook_delivery_failures_total", Help: "Delivery attempts that failed and will be retried or given up, by outcome.",
		}, []string{"outcome"}),
		givenUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fileshare_webhook_deliveries_given_up_total", Help: "Deliveries whose last retry failed.",
		}),
		disabledEndpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fileshare_webhook_endpoints_disabled_total", Help: "Endpoints disabled because every attempt to them failed for 5 days.",
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fileshare_webhook_queue_depth", Help: "Deliveries not made yet, of every instance (read from the database).",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fileshare_webhook_oldest_undelivered_age_seconds", Help: "Age of the oldest event not delivered yet; 0 when none waits.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fileshare_webhook_attempt_duration_seconds", Help: "How long endpoints took to answer (or to fail).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fileshare_webhook_delivery_latency_seconds", Help: "From the commit of an event to its delivery (2xx).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400},
		}),
	}
	reg.MustRegister(m.events, m.attempts, m.failures, m.givenUp, m.disabledEndpoints, m.depth, m.oldest, m.duration, m.latency)
	for _, o := range []string{outcomeDelivered, outcomeStatus, outcomeNoAnswer, outcomeRefused} {
		m.attempts.WithLabelValues(o)
	}
	return m
}

// Outcomes of an attempt.
const (
	outcomeDelivered = "delivered"
	outcomeStatus    = "status"
	outcomeNoAnswer  = "no_answer"
	outcomeRefused   = "refused"
)

func (m *Metrics) event(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) attempt(outcome string, d time.Duration, giveUp bool) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(outcome).Inc()
	m.duration.Observe(d.Seconds())
	if outcome != outcomeDelivered {
		m.failures.WithLabelValues(outcome).Inc()
	}
	if giveUp {
		m.givenUp.Inc()
	}
}

func (m *Metrics) disabled() {
	if m != nil {
		m.disabledEndpoints.Inc()
	}
}

func (m *Metrics) delivered(since time.Time) {
	if m != nil {
		m.latency.Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) backlog(pending int64, oldest time.Time) {
	if m == nil {
		return
	}
	m.depth.Set(float64(pending))
	if pending == 0 {
		m.oldest.Set(0)
		return
	}
	m.oldest.Set(max(0, time.Since(oldest).Seconds()))
}
