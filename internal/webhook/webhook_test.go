package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
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

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// The helpers of this file start with "wh".

const (
	whAlice = "alice@acme"
	whBob   = "bob@other"
	whPW    = "pw"
)

// whDelivery is one request a receiver got, its signature verified.
type whDelivery struct {
	ID        string
	Body      []byte
	Type      string
	Timestamp time.Time
	Data      map[string]any
	At        time.Time
	Status    int
}

// whReceiver is a webhook endpoint that checks every signature with the Standard Webhooks
// reference library (code this project did not write) and records what it got. answer decides
// the status of the n-th request (from 1) of an event; nil answers 200.
type whReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	answer func(n int, d whDelivery, r *http.Request) int

	mu       sync.Mutex
	verifier *standardwebhooks.Webhook
	all      []whDelivery
	byID     map[string]int
	bad      []string
}

func whNewReceiver(t testing.TB, answer func(n int, d whDelivery, r *http.Request) int) *whReceiver {
	r := &whReceiver{t: t, answer: answer, byID: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// use sets the secret the receiver verifies with (the one its webhook was created with).
func (r *whReceiver) use(secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		r.t.Fatalf("secret %q: %v", secret, err)
	}
	r.mu.Lock()
	r.verifier = wh
	r.mu.Unlock()
}

func (r *whReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	verifier := r.verifier
	r.mu.Unlock()
	if err != nil || verifier == nil {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	if err := verifier.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", req.Header.Get("webhook-id"), err))
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	d := whDelivery{ID: req.Header.Get("webhook-id"), Body: body, At: time.Now()}
	var ev struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s: body %q: %v", d.ID, body, err))
		r.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	// Every body is what api/openapi.yaml says a delivery carries.
	if err := testutil.ValidateWebhookEvent(body); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s: body %s: %v", d.ID, body, err))
		r.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	d.Type, d.Timestamp, d.Data = ev.Type, ev.Timestamp, ev.Data
	r.mu.Lock()
	r.byID[d.ID]++
	n := r.byID[d.ID]
	r.mu.Unlock()
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(n, d, req)
	}
	d.Status = status
	if req.Context().Err() != nil {
		d.Status = 0 // the sender gave up before the answer: not delivered
	}
	r.mu.Lock()
	r.all = append(r.all, d)
	r.mu.Unlock()
	w.WriteHeader(status)
}

// delivered returns the deliveries answered 2xx, in the order they came.
func (r *whReceiver) delivered() []whDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []whDelivery
	for _, d := range r.all {
		if d.Status/100 == 2 {
			out = append(out, d)
		}
	}
	return out
}

func (r *whReceiver) requests() []whDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// check fails the test on any signature or body the receiver refused, and on any event
// delivered (answered 2xx) more than once.
func (r *whReceiver) check() {
	r.t.Helper()
	r.mu.Lock()
	bad := slices.Clone(r.bad)
	r.mu.Unlock()
	if len(bad) > 0 {
		r.t.Errorf("the receiver refused %d requests: %v", len(bad), bad[:min(len(bad), 5)])
	}
	seen := map[string]int{}
	for _, d := range r.delivered() {
		seen[d.ID]++
		if seen[d.ID] == 2 {
			r.t.Errorf("event %s (%s) delivered twice", d.ID, d.Type)
		}
	}
}

// whWait polls cond until it holds or the deadline passes.
func whWait(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// whConfig is the test configuration: receivers on loopback are allowed, retries are quick.
func whConfig(timeout time.Duration) testutil.Option {
	return func(c *config.Config) {
		c.WebhookAllowPrivate = true
		c.WebhookTimeout = timeout
		c.WebhookRetryBase = 50 * time.Millisecond
	}
}

func whNewEnv(t *testing.T, opts ...testutil.Option) *testutil.Env {
	e := testutil.NewEnv(t, append([]testutil.Option{whConfig(2 * time.Second)}, opts...)...)
	e.AddUser(whAlice, whPW)
	e.AddUser(whBob, whPW)
	return e
}

// whStart starts the instance's dispatcher until the test ends.
func whStart(t *testing.T, e *testutil.Env) {
	t.Helper()
	if err := e.App.Webhooks.Start(context.Background()); err != nil {
		t.Fatalf("start dispatcher: %v", err)
	}
	t.Cleanup(e.App.Webhooks.Stop)
}

// whCall sends a JSON body (or raw bytes) as login and reads the answer.
func whCall(t testing.TB, e *testutil.Env, method, path, login string, body any) *testutil.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := e.NewRequest(method, path, login, whPW, rd)
	if _, raw := body.([]byte); body != nil && !raw {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.Do(req)
}

func whDecode[T any](t testing.TB, r *testutil.Response, status int) T {
	t.Helper()
	var v T
	if r.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Body, status)
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%s: %v", r.Body, err)
	}
	return v
}

type whWebhook struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret"`
	CreatedBy string   `json:"createdBy"`
}

// whCreate registers rc as a webhook of login's tenant for events (nil: all).
func whCreate(t testing.TB, e *testutil.Env, login string, rc *whReceiver, events []string) whWebhook {
	t.Helper()
	body := map[string]any{"url": rc.srv.URL + "/hook?via=test"}
	if events != nil {
		body["events"] = events
	}
	w := whDecode[whWebhook](t, whCall(t, e, http.MethodPost, "/webhooks", login, body), http.StatusCreated)
	rc.use(w.Secret)
	return w
}

type whIDs struct {
	ID, URL string
}

// whUpload stores content as a simple upload of login.
func whUpload(t testing.TB, e *testutil.Env, login, name string, content []byte, ttl string) whIDs {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	if ttl != "" {
		mw.WriteField("ttl", ttl)
	}
	mw.Close()
	req := e.NewRequest(http.MethodPost, "/uploads", login, whPW, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return whDecode[whIDs](t, e.Do(req), http.StatusCreated)
}

// whStoredFile creates a session (sid given: that one) with a stored file entry.
func whStoredFile(t testing.TB, e *testutil.Env, login, sid, name string, content []byte) (string, string) {
	t.Helper()
	if sid == "" {
		sid = whDecode[whIDs](t, whCall(t, e, http.MethodPost, "/sessions", login, nil), http.StatusCreated).ID
	}
	fid := whDecode[whIDs](t, whCall(t, e, http.MethodPost, "/sessions/"+sid+"/files", login, map[string]any{"name": name}), http.StatusCreated).ID
	if r := whCall(t, e, http.MethodPut, "/sessions/"+sid+"/files/"+fid, login, content); r.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.Body)
	}
	return sid, fid
}

func whExec(t testing.TB, e *testutil.Env, sql string, args ...any) {
	t.Helper()
	if _, err := e.Store.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func whInt(t testing.TB, e *testutil.Env, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.Store.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

type whAttempt struct {
	EventID     string    `json:"eventId"`
	Type        string    `json:"type"`
	Attempt     int       `json:"attempt"`
	StatusCode  *int      `json:"statusCode"`
	Error       *string   `json:"error"`
	AttemptedAt time.Time `json:"attemptedAt"`
	DurationMs  int       `json:"durationMs"`
}

func whAttempts(t testing.TB, e *testutil.Env, login, id string) []whAttempt {
	t.Helper()
	return whDecode[[]whAttempt](t, whCall(t, e, http.MethodGet, "/webhooks/"+id+"/deliveries", login, nil), http.StatusOK)
}

// Every event type, produced by its real action through the HTTP API (and the purge), arrives
// once, signed, with the right body; none carries a token, PIN or password.
func TestWebhookEveryEventTypeArrivesOnceWithItsBody(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	hook := whCreate(t, e, whAlice, rc, nil)
	// Another tenant's webhook hears nothing of alice's.
	other := whNewReceiver(t, nil)
	whCreate(t, e, whBob, other, nil)
	whStart(t, e)

	secrets := []string{whPW, hook.Secret}
	up := whUpload(t, e, whAlice, "report.pdf", []byte("the report"), "")
	whCall(t, e, http.MethodDelete, "/uploads/"+up.ID, whAlice, nil)
	expiring := whUpload(t, e, whAlice, "old.txt", []byte("old"), "")
	whExec(t, e, `UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, expiring.ID)

	sid, fid := whStoredFile(t, e, whAlice, "", "call.wav", []byte("RIFF....WAVE"))
	tok := whDecode[struct{ ID, URL, Ref, PIN string }](t, whCall(t, e, http.MethodPost, "/sessions/"+sid+"/files/"+fid+"/tokens", whAlice, map[string]any{"pin": true}), http.StatusCreated)
	secrets = append(secrets, tok.ID, tok.PIN)
	req := e.NewRequest(http.MethodGet, tok.URL, "", "", nil)
	req.Header.Set("Fileshare-Pin", tok.PIN)
	if r := e.Do(req); r.StatusCode != http.StatusOK || string(r.Body) != "RIFF....WAVE" {
		t.Fatalf("token download: %d %q", r.StatusCode, r.Body)
	}
	revoked := whDecode[struct{ ID, Ref string }](t, whCall(t, e, http.MethodPost, "/sessions/"+sid+"/files/"+fid+"/tokens", whAlice, nil), http.StatusCreated)
	secrets = append(secrets, revoked.ID)
	if r := whCall(t, e, http.MethodDelete, "/sessions/"+sid+"/files/"+fid+"/tokens/"+revoked.Ref, whAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if r := whCall(t, e, http.MethodDelete, "/sessions/"+sid+"/files/"+fid, whAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete file: %d %s", r.StatusCode, r.Body)
	}
	if r := whCall(t, e, http.MethodDelete, "/sessions/"+sid, whAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete session: %d %s", r.StatusCode, r.Body)
	}
	expSid, _ := whStoredFile(t, e, whAlice, "", "gone.txt", []byte("gone"))
	whExec(t, e, `UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, expSid)
	if _, err := e.App.Purger.RunOnce(context.Background()); err != nil {
		t.Fatalf("purge: %v", err)
	}

	byType := map[string][]whDelivery{}
	whWait(t, 15*time.Second, "every event type delivered", func() bool {
		clear(byType)
		for _, d := range rc.delivered() {
			byType[d.Type] = append(byType[d.Type], d)
		}
		return len(byType) == len(webhook.Types)
	})
	// Let any duplicate arrive before counting.
	whWait(t, 10*time.Second, "the queue drained", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL`) == 0
	})
	time.Sleep(200 * time.Millisecond)
	rc.check()
	clear(byType)
	for _, d := range rc.delivered() {
		byType[d.Type] = append(byType[d.Type], d)
	}
	// Two uploads (one deleted, one expired), two stored entries (one deleted, one expired).
	wantCount := map[string]int{webhook.UploadStored: 2, webhook.FileStored: 2}
	for _, typ := range webhook.Types {
		if n, want := len(byType[typ]), max(1, wantCount[typ]); n != want {
			t.Errorf("%s arrived %d times, want %d", typ, n, want)
		}
	}
	for _, d := range rc.delivered() {
		for _, s := range secrets {
			if strings.Contains(string(d.Body), s) {
				t.Errorf("%s carries a secret (%q): %s", d.Type, s, d.Body)
			}
		}
		if d.Timestamp.IsZero() || time.Since(d.Timestamp) > time.Minute {
			t.Errorf("%s: timestamp %v", d.Type, d.Timestamp)
		}
	}
	want := func(typ string, fields map[string]any) {
		t.Helper()
		for _, d := range byType[typ] {
			ok := true
			for k, v := range fields {
				if fmt.Sprint(d.Data[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		t.Errorf("no %s with %v: %v", typ, fields, byType[typ])
	}
	sha := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	want(webhook.UploadStored, map[string]any{"uploadId": up.ID, "name": "report.pdf", "size": 10, "sha256": sha("the report"), "login": whAlice})
	want(webhook.UploadDeleted, map[string]any{"uploadId": up.ID, "name": "report.pdf", "login": whAlice})
	want(webhook.UploadExpired, map[string]any{"uploadId": expiring.ID, "name": "old.txt", "size": 3, "login": nil, "createdBy": whAlice})
	want(webhook.FileStored, map[string]any{"sessionId": sid, "fileId": fid, "name": "call.wav", "size": 12, "sha256": sha("RIFF....WAVE"), "login": whAlice})
	want(webhook.TokenConsumed, map[string]any{"sessionId": sid, "fileId": fid, "ref": tok.Ref, "name": "call.wav", "consumerAddress": "127.0.0.1", "login": nil})
	want(webhook.TokenDelivered, map[string]any{"ref": tok.Ref, "size": 12, "bytesSent": 12, "consumerAddress": "127.0.0.1"})
	want(webhook.TokenRevoked, map[string]any{"ref": revoked.Ref, "fileId": fid, "login": whAlice})
	want(webhook.FileDeleted, map[string]any{"sessionId": sid, "fileId": fid, "name": "call.wav", "login": whAlice})
	want(webhook.SessionDeleted, map[string]any{"sessionId": sid, "files": 0, "login": whAlice})
	want(webhook.SessionExpired, map[string]any{"sessionId": expSid, "login": nil, "createdBy": whAlice})

	if n := len(other.requests()); n != 0 {
		t.Errorf("bob's endpoint got %d of alice's events", n)
	}
	// The delivery log shows every attempt, answered 200.
	att := whAttempts(t, e, whAlice, hook.ID)
	if len(att) != len(rc.delivered()) {
		t.Errorf("%d attempts listed, %d deliveries made", len(att), len(rc.delivered()))
	}
	for _, a := range att {
		if a.StatusCode == nil || *a.StatusCode != http.StatusOK || a.Error != nil || a.Attempt != 1 {
			t.Errorf("attempt %+v", a)
		}
	}
	if strings.Contains(e.Logs.String(), hook.Secret) || strings.Contains(e.Logs.String(), "via=test") {
		t.Error("the log shows a webhook's secret or its URL's query")
	}
	// The metrics count the events and attempts.
	m := string(e.Do(e.NewRequest(http.MethodGet, "/metrics", "", "", nil)).Body)
	for _, line := range []string{
		`fileshare_webhook_events_total{type="token.delivered"} 1`,
		`fileshare_webhook_events_total{type="upload.stored"} 2`,
		fmt.Sprintf(`fileshare_webhook_delivery_attempts_total{outcome="delivered"} %d`, len(rc.delivered())),
		`fileshare_webhook_delivery_attempts_total{outcome="no_answer"} 0`,
		"fileshare_webhook_queue_depth ", "fileshare_webhook_oldest_undelivered_age_seconds ",
		"fileshare_webhook_delivery_latency_seconds_count ",
	} {
		if !strings.Contains(m, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// A change that rolls back leaves no event; a committed change always has its event, written
// in its transaction, before any instance delivers it.
func TestWebhookEventsCommitWithTheirChange(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})

	// A check at commit that fails: the upload's transaction rolls back after its row and its
	// event were written.
	whExec(t, e, `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused at commit'; END $$`)
	whExec(t, e, `CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON webhook_deliveries
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "rolled-back.txt")
	fw.Write([]byte("never"))
	mw.Close()
	req := e.NewRequest(http.MethodPost, "/uploads", whAlice, whPW, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if r := e.Do(req); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("upload whose commit fails: %d %s", r.StatusCode, r.Body)
	}
	for _, table := range []string{"uploads", "webhook_events", "webhook_deliveries", "river.river_job"} {
		if n := whInt(t, e, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%d rows in %s after the rollback", n, table)
		}
	}
	whExec(t, e, `DROP TRIGGER refuse_at_commit ON webhook_deliveries`)

	// Committed while no instance delivers: the event and its queue job are there.
	up := whUpload(t, e, whAlice, "kept.txt", []byte("kept"), "")
	if n := whInt(t, e, `SELECT count(*) FROM webhook_events WHERE type = 'upload.stored' AND body::jsonb->'data'->>'uploadId' = $1`, up.ID); n != 1 {
		t.Fatalf("%d events of the committed upload", n)
	}
	if n := whInt(t, e, `SELECT count(*) FROM river.river_job`); n != 1 {
		t.Fatalf("%d queue jobs", n)
	}
	whStart(t, e)
	whWait(t, 10*time.Second, "the committed upload's event", func() bool { return len(rc.delivered()) == 1 })
	if d := rc.delivered()[0]; d.Data["uploadId"] != up.ID {
		t.Fatalf("delivered %s", d.Body)
	}
	rc.check()
}

// An instance that stops between the commit and the delivery leaves its events to another
// instance, which delivers them under the same webhook-id.
func TestWebhookAnotherInstanceDeliversWhatAStoppedOneLeft(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	var failing atomic.Bool
	failing.Store(true)
	rc := whNewReceiver(t, func(int, whDelivery, *http.Request) int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hook := whCreate(t, e, whAlice, rc, nil)
	whStart(t, e)
	up := whUpload(t, e, whAlice, "a.txt", []byte("a"), "")
	whWait(t, 10*time.Second, "a failed attempt", func() bool { return len(rc.requests()) >= 1 })
	e.App.Webhooks.Stop()
	tried := len(rc.requests())
	// Committed while the first instance is stopped, before any instance runs.
	up2 := whUpload(t, e, whAlice, "b.txt", []byte("b"), "")
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.requests()); n != tried {
		t.Fatalf("a stopped dispatcher made %d more attempts", n-tried)
	}

	twin := e.Twin()
	failing.Store(false)
	whStart(t, twin)
	whWait(t, 10*time.Second, "both events delivered by the other instance", func() bool { return len(rc.delivered()) == 2 })
	rc.check()
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
	whUpload(t, e, whAlice, "a.txt", []byte("a"), "")
	whWait(t, 10*time.Second, "three failed attempts", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE error IS NOT NULL`) >= 3
	})
	for _, a := range whAttempts(t, e, whAlice, hook.ID) {
		if a.StatusCode != nil || a.Error == nil || !strings.Contains(*a.Error, "refused") {
			t.Errorf("attempt while down: %+v", a)
		}
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
	whWait(t, 15*time.Second, "the delivery once the receiver is back", func() bool { return len(rc.delivered()) == 1 })
	time.Sleep(300 * time.Millisecond)
	rc.check()
	if got := rc.requests(); len(got) != 2 || got[0].Status != 500 || got[1].Status != 204 || got[0].ID != got[1].ID {
		t.Errorf("requests once back: %+v", got)
	}
	if n := whInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`); n != 1 {
		t.Errorf("%d deliveries marked delivered", n)
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
		whUpload(t, e, whAlice, fmt.Sprintf("a%d.txt", i), []byte("a"), "")
	}
	whWait(t, 5*time.Second, "alice's endpoint hanging", func() bool { return inFlight(slow) })
	committed := time.Now()
	whUpload(t, e, whBob, "b.txt", []byte("b"), "")
	whWait(t, timeout, "bob's event while alice's endpoint hangs", func() bool { return len(fast.delivered()) == 1 })
	if d := time.Since(committed); d > timeout/2 {
		t.Errorf("bob's event took %s while alice's endpoint hung", d)
	}

	// Alice's first attempts are cut at the timeout and logged so.
	whWait(t, 3*timeout, "cut attempts", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE webhook_id = $1 AND error IS NOT NULL`, slowHook.ID) > 0
	})
	for _, a := range whAttempts(t, e, whAlice, slowHook.ID) {
		if a.Error == nil || !strings.Contains(*a.Error, "no answer within") || a.DurationMs < int(timeout/time.Millisecond)-100 || a.DurationMs > int(timeout/time.Millisecond)+1500 {
			t.Errorf("hanging attempt %+v", a)
		}
	}
	// Then it answers, and every event arrives, once.
	hang.Store(false)
	whWait(t, 20*time.Second, "alice's events after the hang", func() bool { return len(slow.delivered()) == 12 })
	time.Sleep(300 * time.Millisecond)
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
				whUpload(t, inst, whAlice, fmt.Sprintf("f%d.txt", i), []byte("x"), "")
			}
		}()
	}
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
	committed := time.Since(start)
	whWait(t, 20*time.Second, "every event delivered", func() bool { return len(rc.delivered()) >= events })
	elapsed := time.Since(start)
	whWait(t, 10*time.Second, "the queue drained", func() bool {
		return whInt(t, e, `SELECT count(*) FROM river.river_job WHERE state NOT IN ('completed')`) == 0
	})
	time.Sleep(300 * time.Millisecond)
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

// Endpoint URLs on internal addresses are refused at creation.
func TestWebhookInternalURLsAreRefused(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t) // FILESHARE_WEBHOOK_ALLOW_PRIVATE off
	e.AddUser(whAlice, whPW)
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "https://[::1]/hook", "http://10.0.0.1/hook",
		"http://169.254.169.254/latest/meta-data/", "http://localhost/hook", "http://localhost:3001/",
		"http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://192.168.0.10/", "http://[fd00:ec2::254]/",
		"ftp://192.0.2.10/", "https://user:pw@192.0.2.10/", "//192.0.2.10/", "not a url", "", "https://",
		"https://192.0.2.10:99999/", "https://192.0.2.10/#frag",
	} {
		r := whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{"url": u})
		if r.StatusCode != http.StatusBadRequest || string(r.Body) != `{"message":"invalid webhook url"}` {
			t.Errorf("%q: %d %s", u, r.StatusCode, r.Body)
		}
	}
	if r := whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("no url: %d %s", r.StatusCode, r.Body)
	}
	// A public address is accepted (no event is made here, so nothing is ever sent to it).
	w := whDecode[whWebhook](t, whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{"url": "https://192.0.2.10/hook"}), http.StatusCreated)
	if w.URL != "https://192.0.2.10/hook" {
		t.Errorf("url %q", w.URL)
	}
	if n := whInt(t, e, `SELECT count(*) FROM webhooks`); n != 1 {
		t.Errorf("%d webhooks stored", n)
	}
}

// At delivery time an internal address is never connected to, whatever the name resolved to
// when the endpoint was made (DNS rebinding); and a redirect is never followed.
func TestWebhookDeliveryNeverReachesInternalAddresses(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.WebhookRetryBase = 50 * time.Millisecond; c.WebhookTimeout = 2 * time.Second })
	e.AddUser(whAlice, whPW)
	var conns atomic.Int64
	rc := whNewReceiver(t, nil)
	rc.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	// As if the name had resolved to a public address at creation and to loopback now.
	var tenant int64
	if err := e.Store.Pool.QueryRow(context.Background(), `SELECT id FROM tenants WHERE name = 'acme'`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	hookID := uuid.New()
	whExec(t, e, `INSERT INTO webhooks (id, tenant_id, url, events, secret, created_by) VALUES ($1, $2, $3, '{}', $4, 'x')`,
		hookID, tenant, rc.srv.URL+"/hook", bytes.Repeat([]byte{7}, 32))
	rc.use("whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	whStart(t, e)
	whUpload(t, e, whAlice, "a.txt", []byte("a"), "")
	whWait(t, 10*time.Second, "two refused attempts", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE error LIKE 'refused address%'`) >= 2
	})
	if n := conns.Load(); n != 0 {
		t.Errorf("the receiver on loopback got %d connections", n)
	}
	a := whAttempts(t, e, whAlice, hookID.String())
	if len(a) == 0 || a[0].Error == nil || *a[0].Error != "refused address 127.0.0.1" {
		t.Errorf("attempts %+v", a)
	}
}

func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	target := whNewReceiver(t, nil)
	var hits atomic.Int64
	target.answer = func(int, whDelivery, *http.Request) int { hits.Add(1); return 200 }
	redirect := whNewReceiver(t, nil)
	redirect.srv.Config.Handler = http.RedirectHandler(target.srv.URL+"/hook", http.StatusTemporaryRedirect)
	hook := whDecode[whWebhook](t, whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{"url": redirect.srv.URL}), http.StatusCreated)
	whStart(t, e)
	whUpload(t, e, whAlice, "a.txt", []byte("a"), "")
	whWait(t, 10*time.Second, "two redirected attempts", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE status_code = 307`) >= 2
	})
	if n := hits.Load() + int64(len(target.requests())); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
	if a := whAttempts(t, e, whAlice, hook.ID); len(a) < 2 || a[0].StatusCode == nil || *a[0].StatusCode != 307 {
		t.Errorf("attempts %+v", a)
	}
}

// The routes: creation with its secret (shown once), listing, reading, deleting, the attempt
// log, and their refusals.
func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	r := whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{"url": rc.srv.URL, "events": []string{"token.delivered", "upload.stored", "token.delivered"}})
	w := whDecode[whWebhook](t, r, http.StatusCreated)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Secret, "whsec_"))
	if !strings.HasPrefix(w.Secret, "whsec_") || err != nil || len(key) < 24 {
		t.Errorf("secret %q", w.Secret)
	}
	if !slices.Equal(w.Events, []string{"upload.stored", "token.delivered"}) || w.CreatedBy != whAlice || r.Header.Get("Location") != e.URL+"/webhooks/"+w.ID {
		t.Errorf("created %+v, Location %q", w, r.Header.Get("Location"))
	}
	all := whDecode[whWebhook](t, whCall(t, e, http.MethodPost, "/webhooks", whAlice, map[string]any{"url": rc.srv.URL, "events": []string{}}), http.StatusCreated)
	if len(all.Events) != 0 {
		t.Errorf("empty events became %v", all.Events)
	}
	got := whDecode[whWebhook](t, whCall(t, e, http.MethodGet, "/webhooks/"+w.ID, whAlice, nil), http.StatusOK)
	if got.Secret != "" || got.URL != rc.srv.URL || got.ID != w.ID {
		t.Errorf("GET %+v", got)
	}
	page := whCall(t, e, http.MethodGet, "/webhooks?limit=1", whAlice, nil)
	list := whDecode[[]whWebhook](t, page, http.StatusOK)
	if len(list) != 1 || list[0].ID != w.ID || !strings.Contains(page.Header.Get("Link"), `rel="next"`) || bytes.Contains(page.Body, []byte("whsec_")) {
		t.Errorf("first page %s, Link %q", page.Body, page.Header.Get("Link"))
	}
	next := strings.TrimSuffix(strings.TrimPrefix(page.Header.Get("Link"), "<"), `>; rel="next"`)
	if list := whDecode[[]whWebhook](t, whCall(t, e, http.MethodGet, next, whAlice, nil), http.StatusOK); len(list) != 1 || list[0].ID != all.ID {
		t.Errorf("second page %+v", list)
	}
	for _, bad := range []struct {
		body any
		msg  string
	}{
		{map[string]any{"url": rc.srv.URL, "events": []string{"upload.exploded"}}, "invalid webhook events"},
		{map[string]any{"url": 5}, "invalid JSON body"},
		{[]byte(`{"url":`), "invalid JSON body"},
		{map[string]any{"url": "gopher://x/"}, "invalid webhook url"},
	} {
		r := whCall(t, e, http.MethodPost, "/webhooks", whAlice, bad.body)
		if r.StatusCode != http.StatusBadRequest || string(r.Body) != `{"message":"`+bad.msg+`"}` {
			t.Errorf("%v: %d %s", bad.body, r.StatusCode, r.Body)
		}
	}
	if r := whCall(t, e, http.MethodPost, "/webhooks", "", map[string]any{"url": rc.srv.URL}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", r.StatusCode)
	}
	if a := whAttempts(t, e, whAlice, w.ID); len(a) != 0 {
		t.Errorf("attempts before any event: %+v", a)
	}
	if r := whCall(t, e, http.MethodDelete, "/webhooks/"+w.ID, whAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	for _, path := range []string{"/webhooks/" + w.ID, "/webhooks/" + w.ID + "/deliveries", "/webhooks/not-a-uuid", "/webhooks/not-a-uuid/deliveries"} {
		if r := whCall(t, e, http.MethodGet, path, whAlice, nil); r.StatusCode != http.StatusNotFound || string(r.Body) != `{"message":"webhook not found"}` {
			t.Errorf("GET %s: %d %s", path, r.StatusCode, r.Body)
		}
	}
	if r := whCall(t, e, http.MethodDelete, "/webhooks/"+w.ID, whAlice, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %d %s", r.StatusCode, r.Body)
	}
}

// Every webhook route answers another tenant's id exactly like an unknown one, and changes
// nothing; a tenant's events never reach another tenant's endpoints.
func TestWebhookTenantIsolation(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rcA, rcB := whNewReceiver(t, nil), whNewReceiver(t, nil)
	hookA := whCreate(t, e, whAlice, rcA, nil)
	hookB := whCreate(t, e, whBob, rcB, nil)
	whStart(t, e)
	whUpload(t, e, whAlice, "a.txt", []byte("a"), "")
	whWait(t, 10*time.Second, "alice's event, delivered and logged", func() bool {
		return whInt(t, e, `SELECT count(*) FROM webhook_attempts`) == 1
	})

	before := whInt(t, e, `SELECT count(*) FROM webhooks`) + whInt(t, e, `SELECT count(*) FROM webhook_attempts`)
	unknown := uuid.NewString()
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/webhooks/%s"},
		{http.MethodDelete, "/webhooks/%s"},
		{http.MethodGet, "/webhooks/%s/deliveries"},
		{http.MethodGet, "/webhooks/%s/deliveries?limit=1"},
		{http.MethodPost, "/webhooks/%s"},
		{http.MethodPut, "/webhooks/%s"},
	} {
		foreign := whCall(t, e, c.method, fmt.Sprintf(c.path, hookA.ID), whBob, nil)
		other := whCall(t, e, c.method, fmt.Sprintf(c.path, unknown), whBob, nil)
		if foreign.StatusCode != other.StatusCode || !bytes.Equal(foreign.Body, other.Body) {
			t.Errorf("%s %s: alice's id answers %d %s, an unknown one %d %s", c.method, c.path, foreign.StatusCode, foreign.Body, other.StatusCode, other.Body)
		}
		if c.method != http.MethodPost && c.method != http.MethodPut && foreign.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d", c.method, c.path, foreign.StatusCode)
		}
	}
	list := whCall(t, e, http.MethodGet, "/webhooks?limit=1000", whBob, nil)
	if bytes.Contains(list.Body, []byte(hookA.ID)) || !bytes.Contains(list.Body, []byte(hookB.ID)) {
		t.Errorf("bob's list: %s", list.Body)
	}
	if after := whInt(t, e, `SELECT count(*) FROM webhooks`) + whInt(t, e, `SELECT count(*) FROM webhook_attempts`); after != before {
		t.Errorf("rows changed: %d → %d", before, after)
	}
	if a := whAttempts(t, e, whAlice, hookA.ID); len(a) != 1 {
		t.Errorf("alice's attempts %+v", a)
	}
	if n := len(rcB.requests()); n != 0 {
		t.Errorf("bob's endpoint got %d of alice's events", n)
	}
}

// inFlight reports whether the receiver has a request whose handler is still running.
func inFlight(rc *whReceiver) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byID) > len(rc.all)
}

// serve refuses a database whose job queue tables are missing, like one whose goose
// migrations are; migrate up adds them.
func TestWebhookQueueSchemaIsRequired(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	whExec(t, e, `DROP SCHEMA river CASCADE`)
	whExec(t, e, `CREATE SCHEMA river`)
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
