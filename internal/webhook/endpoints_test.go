package webhook_test

// Tests of the webhook routes: creation, listing, reading, deletion, the attempt log, and
// other tenants' ids.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/testutil"
)

// The routes: creation with its secret (shown once), listing, reading, deleting, the attempt
// log, and their refusals.
func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": rc.srv.URL, "events": []string{"token.delivered", "upload.stored", "token.delivered"}})
	w := testutil.Decode[whWebhook](t, r, http.StatusCreated)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Secret, "whsec_"))
	if !strings.HasPrefix(w.Secret, "whsec_") || err != nil || len(key) < 24 {
		t.Errorf("secret %q", w.Secret)
	}
	if !slices.Equal(w.Events, []string{"upload.stored", "token.delivered"}) || w.CreatedBy != whAlice || r.Header.Get("Location") != e.URL+"/webhooks/"+w.ID {
		t.Errorf("created %+v, Location %q", w, r.Header.Get("Location"))
	}
	all := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": rc.srv.URL, "events": []string{}}), http.StatusCreated)
	if len(all.Events) != 0 {
		t.Errorf("empty events became %v", all.Events)
	}
	got := testutil.Decode[whWebhook](t, e.Call(http.MethodGet, "/webhooks/"+w.ID, whAlice, whPW, nil), http.StatusOK)
	if got.Secret != "" || got.URL != rc.srv.URL || got.ID != w.ID {
		t.Errorf("GET %+v", got)
	}
	page := e.Call(http.MethodGet, "/webhooks?limit=1", whAlice, whPW, nil)
	list := testutil.Decode[[]whWebhook](t, page, http.StatusOK)
	if len(list) != 1 || list[0].ID != w.ID || !strings.Contains(page.Header.Get("Link"), `rel="next"`) || bytes.Contains(page.Body, []byte("whsec_")) {
		t.Errorf("first page %s, Link %q", page.Body, page.Header.Get("Link"))
	}
	next := strings.TrimSuffix(strings.TrimPrefix(page.Header.Get("Link"), "<"), `>; rel="next"`)
	if list := testutil.Decode[[]whWebhook](t, e.Call(http.MethodGet, next, whAlice, whPW, nil), http.StatusOK); len(list) != 1 || list[0].ID != all.ID {
		t.Errorf("second page %+v", list)
	}
	for _, bad := range []struct {
		body any
		want string
	}{
		{map[string]any{"url": rc.srv.URL, "events": []string{"upload.exploded"}}, `{"message":"invalid webhook events"}`},
		{map[string]any{"url": rc.srv.URL, "events": []string{"webhook.test"}}, `{"message":"invalid webhook events"}`},
		{map[string]any{"url": 5}, `{"message":"invalid JSON body"}`},
		{[]byte(`{"url":`), `{"message":"invalid JSON body"}`},
		{map[string]any{"url": "gopher://x/"}, `{"message":"invalid webhook url","reason":"scheme must be http or https"}`},
	} {
		r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, bad.body)
		if r.StatusCode != http.StatusBadRequest || string(r.Body) != bad.want {
			t.Errorf("%v: %d %s", bad.body, r.StatusCode, r.Body)
		}
	}
	// webhook.disabled is a type to subscribe to; a new endpoint is enabled.
	if w := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": rc.srv.URL, "events": []string{"webhook.disabled"}}), http.StatusCreated); !slices.Equal(w.Events, []string{"webhook.disabled"}) || !w.Enabled || w.DisabledAt != nil {
		t.Errorf("subscribed to webhook.disabled: %+v", w)
	} else {
		e.Call(http.MethodDelete, "/webhooks/"+w.ID, whAlice, whPW, nil)
	}
	if r := e.Call(http.MethodPost, "/webhooks", "", whPW, map[string]any{"url": rc.srv.URL}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", r.StatusCode)
	}
	if a := whAttempts(t, e, whAlice, w.ID); len(a) != 0 {
		t.Errorf("attempts before any event: %+v", a)
	}
	if r := e.Call(http.MethodDelete, "/webhooks/"+w.ID, whAlice, whPW, nil); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	for _, path := range []string{"/webhooks/" + w.ID, "/webhooks/" + w.ID + "/deliveries", "/webhooks/not-a-uuid", "/webhooks/not-a-uuid/deliveries"} {
		if r := e.Call(http.MethodGet, path, whAlice, whPW, nil); r.StatusCode != http.StatusNotFound || string(r.Body) != `{"message":"webhook not found"}` {
			t.Errorf("GET %s: %d %s", path, r.StatusCode, r.Body)
		}
	}
	if r := e.Call(http.MethodDelete, "/webhooks/"+w.ID, whAlice, whPW, nil); r.StatusCode != http.StatusNotFound {
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
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "alice's event, delivered and logged", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`) == 1
	})

	before := testutil.QueryInt(t, e, `SELECT count(*) FROM webhooks`) + testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`)
	unknown := uuid.NewString()
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/webhooks/%s"},
		{http.MethodDelete, "/webhooks/%s"},
		{http.MethodGet, "/webhooks/%s/deliveries"},
		{http.MethodGet, "/webhooks/%s/deliveries?limit=1"},
		{http.MethodPost, "/webhooks/%s"},
		{http.MethodPut, "/webhooks/%s"},
		{http.MethodPatch, "/webhooks/%s"},
		{http.MethodPost, "/webhooks/%s/test"},
		{http.MethodPost, "/webhooks/%s/rotate-secret"},
		{http.MethodPost, "/webhooks/%s/deliveries/" + uuid.NewString() + "/retry"},
	} {
		foreign := e.Call(c.method, fmt.Sprintf(c.path, hookA.ID), whBob, whPW, nil)
		other := e.Call(c.method, fmt.Sprintf(c.path, unknown), whBob, whPW, nil)
		if foreign.StatusCode != other.StatusCode || !bytes.Equal(foreign.Body, other.Body) {
			t.Errorf("%s %s: alice's id answers %d %s, an unknown one %d %s", c.method, c.path, foreign.StatusCode, foreign.Body, other.StatusCode, other.Body)
		}
		if c.path != "/webhooks/%s" || c.method != http.MethodPost && c.method != http.MethodPut {
			if foreign.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: %d", c.method, c.path, foreign.StatusCode)
			}
		} else if foreign.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", c.method, c.path, foreign.StatusCode)
		}
	}
	list := e.Call(http.MethodGet, "/webhooks?limit=1000", whBob, whPW, nil)
	if bytes.Contains(list.Body, []byte(hookA.ID)) || !bytes.Contains(list.Body, []byte(hookB.ID)) {
		t.Errorf("bob's list: %s", list.Body)
	}
	if after := testutil.QueryInt(t, e, `SELECT count(*) FROM webhooks`) + testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_attempts`); after != before {
		t.Errorf("rows changed: %d → %d", before, after)
	}
	if a := whAttempts(t, e, whAlice, hookA.ID); len(a) != 1 {
		t.Errorf("alice's attempts %+v", a)
	}
	if n := len(rcB.requests()); n != 0 {
		t.Errorf("bob's endpoint got %d of alice's events", n)
	}
}
