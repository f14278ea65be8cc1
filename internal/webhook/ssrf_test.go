package webhook_test

// Tests that no delivery reaches an internal address: refused at creation, at connection time
// (DNS rebinding), and through a redirect.

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

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
		r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": u})
		if got := testutil.Decode[map[string]string](t, r, http.StatusBadRequest); got["message"] != "invalid webhook url" || got["reason"] == "" || len(got) != 2 {
			t.Errorf("%q: %s", u, r.Body)
		}
	}
	if r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("no url: %d %s", r.StatusCode, r.Body)
	}
	// A public address is accepted (no event is made here, so nothing is ever sent to it).
	w := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": "https://192.0.2.10/hook"}), http.StatusCreated)
	if w.URL != "https://192.0.2.10/hook" {
		t.Errorf("url %q", w.URL)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhooks`); n != 1 {
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
	testutil.Exec(t, e, `INSERT INTO webhooks (id, tenant_id, url, events, secret, created_by) VALUES ($1, $2, $3, '{}', $4, 'x')`, hookID, tenant, rc.srv.URL+"/hook", bytes.Repeat([]byte{7}, 32))
	rc.use("whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	whStart(t, e)
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "two refused attempts", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE error LIKE 'refused address%'`) >= 2
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
	hook := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": redirect.srv.URL}), http.StatusCreated)
	whStart(t, e)
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "two redirected attempts", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts WHERE status_code = 307`) >= 2
	})
	if n := hits.Load() + int64(len(target.requests())); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
	if a := whAttempts(t, e, whAlice, hook.ID); len(a) < 2 || a[0].StatusCode == nil || *a[0].StatusCode != 307 {
		t.Errorf("attempts %+v", a)
	}
}
