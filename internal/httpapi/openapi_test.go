package httpapi_test

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"fileshare/internal/testutil"
)

// TestMetricsContentTypesAsDocumented: /metrics answers the Prometheus text format 0.0.4 — to a
// request without Accept and to a scraper that prefers OpenMetrics (Prometheus 3's default
// Accept), which is not offered — and the protobuf format to a scraper that asks for it; the
// document lists exactly these two. Every answer is also validated against the document (Do).
func TestMetricsContentTypesAsDocumented(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.Do(e.NewRequest(http.MethodGet, "/healthz", "", "", nil))

	get := func(accept string) *testutil.Response {
		t.Helper()
		req := e.NewRequest(http.MethodGet, "/metrics", "", "", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		r := e.Do(req)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("Accept %q: %d", accept, r.StatusCode)
		}
		return r
	}
	const prometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5," +
		"application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3," +
		"text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	for _, accept := range []string{"", "*/*", prometheus3, "application/openmetrics-text"} {
		r := get(accept)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4; charset=utf-8") {
			t.Errorf("Accept %q: Content-Type %q, want the text format 0.0.4", accept, ct)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
		if err != nil || families["fileshare_http_requests_total"] == nil {
			t.Errorf("Accept %q: not the text format with fileshare's metrics (%v)", accept, err)
		}
	}

	const protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"
	r := get(protobuf)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited") {
		t.Errorf("protobuf asked: Content-Type %q", ct)
	}
	// Length-delimited MetricFamily messages: the names are in them as they are, no text line is.
	if !bytes.Contains(r.Body, []byte("fileshare_http_requests_total")) || bytes.Contains(r.Body, []byte("# HELP")) {
		t.Errorf("protobuf asked: the answer is not protobuf with fileshare's metrics: %.100q", r.Body)
	}

	// The document promises nothing else (no OpenMetrics).
	doc := testutil.OpenAPIDocument(t)
	content := doc.Paths.Value("/metrics").Get.Responses.Status(http.StatusOK).Value.Content
	got := slices.Sorted(maps.Keys(content))
	if want := []string{"application/vnd.google.protobuf", "text/plain"}; !slices.Equal(got, want) {
		t.Errorf("the document's /metrics answers %v, the server %v", got, want)
	}
}

// TestOversizedHeadersAnswerAsDocumented: the HTTP server's own 431 (TestOversizedHeadersAnswer431)
// is the plain-text answer the document describes.
func TestOversizedHeadersAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	addr := hoServer(t, e, 10*time.Second)
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		a := hoSend(t, addr, "GET "+path+" HTTP/1.1\r\nHost: test\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n", nil)
		if a.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s: %d %.200s, want 431", path, a.StatusCode, a.Body)
		}
		testutil.ValidateResponse(t, e.NewRequest(http.MethodGet, path, "", "", nil), a.Response, a.Body)
	}
}
