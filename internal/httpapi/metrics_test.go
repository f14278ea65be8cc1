package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"fileshare/internal/testutil"
)

// scrape reads /metrics into sample values keyed by metric name and sorted label pairs.
func scrape(t *testing.T, e *testutil.Env) (map[string]float64, string) {
	t.Helper()
	r := e.Do(e.NewRequest(http.MethodGet, "/metrics", "", "", nil))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", r.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out, string(r.Body)
}

func TestMetricsCountTrafficByRouteTemplate(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")

	// A simple upload downloaded twice, an unknown upload, a wrong password.
	r := upPost(e, "alice@acme", "pw", testutil.FilePart("m.txt", []byte("0123456789")))
	var up struct{ ID string }
	json.Unmarshal(r.Body, &up)
	for range 2 {
		e.Do(e.NewRequest(http.MethodGet, "/uploads/"+up.ID, "", "", nil))
	}
	e.Do(e.NewRequest(http.MethodGet, "/uploads/00000000-0000-0000-0000-000000000000", "", "", nil))
	e.Do(e.NewRequest(http.MethodPost, "/sessions", "alice@acme", "wrong", nil))

	// A one-time token used twice.
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions", "alice@acme", "pw", nil))
	var s struct{ ID string }
	json.Unmarshal(r.Body, &s)
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files", "alice@acme", "pw", strings.NewReader(`{"name":"t.bin"}`)))
	var f struct{ ID string }
	json.Unmarshal(r.Body, &f)
	e.Do(e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, "alice@acme", "pw", strings.NewReader("abc")))
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", "alice@acme", "pw", nil))
	var tok struct{ URL string }
	json.Unmarshal(r.Body, &tok)
	for range 2 {
		e.Do(e.NewRequest(http.MethodGet, tok.URL, "", "", nil))
	}

	m, text := scrape(t, e)
	want := map[string]float64{
		"fileshare_http_requests_total{method=GET,route=/uploads/:id,status=200}":                            2,
		"fileshare_http_requests_total{method=GET,route=/uploads/:id,status=404}":                            1,
		"fileshare_http_requests_total{method=POST,route=/uploads,status=201}":                               1,
		"fileshare_http_requests_total{method=POST,route=/sessions,status=401}":                              1,
		"fileshare_http_requests_total{method=GET,route=/sessions/:sid/files/:fid/tokens/:token,status=200}": 1,
		"fileshare_http_requests_total{method=GET,route=/sessions/:sid/files/:fid/tokens/:token,status=410}": 1,
		"fileshare_http_request_duration_seconds{method=GET,route=/uploads/:id}":                             3,
		"fileshare_download_token_outcomes_total{outcome=consumed}":                                          1,
		"fileshare_download_token_outcomes_total{outcome=already_used}":                                      1,
		"fileshare_downloaded_bytes_total{}":                                                                 2*10 + 3,
		"fileshare_transfers_in_flight{direction=upload}":                                                    0,
		"fileshare_transfers_in_flight{direction=download}":                                                  0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if got := m["fileshare_uploaded_bytes_total{}"]; got < 13 {
		t.Errorf("uploaded bytes %v, want at least the 13 bytes of content", got)
	}
	if _, ok := m["fileshare_db_pool_connections{}"]; !ok {
		t.Error("no database pool metrics")
	}
	// Route templates only: no id and no token ever appears in a label.
	for _, secret := range []string{up.ID, s.ID, f.ID, tok.URL[strings.LastIndex(tok.URL, "/")+1:]} {
		if strings.Contains(text, secret) {
			t.Fatalf("/metrics contains the id or token %q", secret)
		}
	}

	// The purge feeds its metrics.
	if _, err := e.App.Purger.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	m, _ = scrape(t, e)
	if m["fileshare_purge_passes_total{result=ok}"] != 1 || m["fileshare_purge_duration_seconds{}"] != 1 {
		t.Errorf("purge metrics after one pass: passes %v, durations %v", m["fileshare_purge_passes_total{result=ok}"], m["fileshare_purge_duration_seconds{}"])
	}
}

// TestMetricsLabelsStayBounded: requests with made-up methods, some of 30,000 characters, sent
// without credentials, neither add a series per method to /metrics nor write the whole method
// into the log: every label value comes from a closed set, and the number of series stays
// under a fixed bound.
func TestMetricsLabelsStayBounded(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	series := func() (int, map[string]bool, int) {
		m, text := scrape(t, e)
		n, methods := 0, map[string]bool{}
		for k := range m {
			if strings.HasPrefix(k, "fileshare_http_") {
				n++
				for _, l := range strings.Split(k[strings.IndexByte(k, '{')+1:len(k)-1], ",") {
					if v, ok := strings.CutPrefix(l, "method="); ok {
						methods[v] = true
					}
				}
			}
		}
		return n, methods, len(text)
	}
	// One known route and one unknown path for each method.
	e.Do(e.NewRequest(http.MethodGet, "/healthz", "", "", nil))
	before, _, size := series()

	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	long := strings.Repeat("XQZT", 7500)
	for i := range 200 {
		var b strings.Builder
		for n := i; ; n /= len(letters) {
			b.WriteByte(letters[n%len(letters)])
			if n < len(letters) {
				break
			}
		}
		method := "XQZT" + b.String()
		if i%20 == 0 {
			method = long + b.String()
		}
		path := "/x"
		if i%2 == 1 {
			path = "/healthz"
		}
		r := e.Do(e.NewRequest(method, path, "", "", nil))
		want, msg := http.StatusNotFound, "not found"
		if path == "/healthz" {
			want, msg = http.StatusMethodNotAllowed, "method not allowed"
		}
		var body struct{ Message string }
		if r.StatusCode != want || json.Unmarshal(r.Body, &body) != nil || body.Message != msg {
			t.Fatalf("%.20s… %s: %d %.200s, want %d {\"message\":%q}", method, path, r.StatusCode, r.Body, want, msg)
		}
	}

	after, methods, sizeAfter := series()
	// At most: the unknown path and /healthz by method "other" (a counter and a histogram each),
	// and the scrape of /metrics itself.
	if after-before > 6 {
		t.Errorf("200 made-up methods added %d series to /metrics (%d → %d)", after-before, before, after)
	}
	for m := range methods {
		switch m {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other":
		default:
			t.Errorf("method label %.40q is not one of a closed set", m)
		}
	}
	if sizeAfter > size+4<<10 {
		t.Errorf("/metrics grew from %d to %d bytes", size, sizeAfter)
	}
	// The log shows at most a short prefix of a method, never 30,000 characters of it.
	if logs := e.Logs.String(); strings.Contains(logs, strings.Repeat("XQZT", 20)) {
		t.Errorf("the log holds a long method (%d bytes of logs)", len(logs))
	}
}
