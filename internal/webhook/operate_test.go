package webhook_test

// Tests of what an integrator does with a registered endpoint, through the HTTP API: change it
// (PATCH), disable and enable it, send it a test event, and send a given-up delivery again.

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

type whQueued struct {
	EventID string `json:"eventId"`
}

func whGet(t testing.TB, e *testutil.Env, id string) whWebhook {
	t.Helper()
	return testutil.Decode[whWebhook](t, e.Call(http.MethodGet, "/webhooks/"+id, whAlice, whPW, nil), http.StatusOK)
}

func whPatch(t testing.TB, e *testutil.Env, id string, body any) whWebhook {
	t.Helper()
	return testutil.Decode[whWebhook](t, e.Call(http.MethodPatch, "/webhooks/"+id, whAlice, whPW, body), http.StatusOK)
}

// whTypes lists the types of deliveries.
func whTypes(ds []whDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Type
	}
	return out
}

// PATCH changes an endpoint's URL (the next event goes there), its subscription, and whether it
// is enabled: a disabled endpoint gets nothing, not even once enabled again.
func TestWebhookPatch(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	first, second := whNewReceiver(t, nil), whNewReceiver(t, nil)
	hook := whCreate(t, e, whAlice, first, []string{webhook.UploadStored})
	second.use(hook.Secret)
	// Another endpoint of the tenant, subscribed to every event alice makes here: once it has an
	// event, so has every endpoint that was to get it.
	marker := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, marker, []string{webhook.UploadStored, webhook.UploadDeleted})
	whStart(t, e)
	uploadAndDelete := func(name string) testutil.Upload {
		t.Helper()
		up := e.Upload(t, whAlice, name, []byte(name))
		if r := e.Call(http.MethodDelete, "/uploads/"+up.ID, whAlice, whPW, nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.StatusCode, r.Body)
		}
		return up
	}
	settled := func(markerEvents int) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, "the marker's events", func() bool { return len(marker.delivered()) == markerEvents })
		whQueueDone(t, e)
	}

	// A new URL: the next event goes there, signed with the same secret.
	got := whPatch(t, e, hook.ID, map[string]any{"url": second.srv.URL + "/v2"})
	if got.URL != second.srv.URL+"/v2" || !slices.Equal(got.Events, []string{webhook.UploadStored}) || !got.Enabled || got.DisabledAt != nil || got.DisabledReason != nil || got.Secret != "" {
		t.Errorf("after a new url: %+v", got)
	}
	if again := whGet(t, e, hook.ID); again.URL != got.URL || !again.Enabled {
		t.Errorf("GET after PATCH: %+v", again)
	}
	a := uploadAndDelete("a.txt")
	settled(2)

	// A new subscription: upload.deleted only.
	if got := whPatch(t, e, hook.ID, `{"events":["upload.deleted"]}`); !slices.Equal(got.Events, []string{webhook.UploadDeleted}) || got.URL != second.srv.URL+"/v2" {
		t.Errorf("after new events: %+v", got)
	}
	b := uploadAndDelete("b.txt")
	settled(4)
	if got := whTypes(second.delivered()); !slices.Equal(got, []string{webhook.UploadStored, webhook.UploadDeleted}) ||
		second.delivered()[0].Data["uploadId"] != a.ID || second.delivered()[1].Data["uploadId"] != b.ID {
		t.Errorf("the new URL got %v", got)
	}

	// Disabled: nothing is recorded for it, nor sent.
	got = whPatch(t, e, hook.ID, map[string]any{"enabled": false})
	if got.Enabled || got.DisabledAt == nil || time.Since(*got.DisabledAt) > time.Minute || got.DisabledReason == nil || *got.DisabledReason != "disabled by "+whAlice {
		t.Errorf("disabled: %+v", got)
	}
	if again := whGet(t, e, hook.ID); again.Enabled || again.DisabledReason == nil || !again.DisabledAt.Equal(*got.DisabledAt) {
		t.Errorf("GET of the disabled endpoint: %+v", again)
	}
	uploadAndDelete("c.txt")
	settled(6)
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, hook.ID); n != 2 {
		t.Errorf("%d deliveries recorded for the endpoint, 2 before it was disabled", n)
	}

	// Enabled again: the next event arrives, the one made while disabled never does.
	got = whPatch(t, e, hook.ID, map[string]any{"enabled": true, "url": nil, "events": nil})
	if !got.Enabled || got.DisabledAt != nil || got.DisabledReason != nil || !slices.Equal(got.Events, []string{webhook.UploadDeleted}) {
		t.Errorf("enabled again: %+v", got)
	}
	d := uploadAndDelete("d.txt")
	settled(8)
	if got := second.delivered(); len(got) != 3 || got[2].Data["uploadId"] != d.ID {
		t.Errorf("after enabling again: %v", whTypes(got))
	}
	if n := len(first.requests()); n != 0 {
		t.Errorf("the old URL got %d requests", n)
	}
	first.check()
	second.check()
	marker.check()

	// Refusals, in the words of the creation's; another tenant's id answers like an unknown one.
	for _, c := range []struct {
		body any
		want string
	}{
		{map[string]any{"events": []string{"upload.exploded"}}, `{"message":"invalid webhook events"}`},
		{map[string]any{"events": []string{webhook.WebhookTest}}, `{"message":"invalid webhook events"}`},
		{`{"enabled":"false"}`, `{"message":"invalid JSON body"}`},
		{`{"Enabled":false}`, `{"message":"invalid JSON body"}`},
		{`{"secret":"whsec_AAAA"}`, `{"message":"invalid JSON body"}`},
		{`[]`, `{"message":"invalid JSON body"}`},
		{map[string]any{"url": "gopher://x/"}, `{"message":"invalid webhook url","reason":"scheme must be http or https"}`},
	} {
		if r := e.Call(http.MethodPatch, "/webhooks/"+hook.ID, whAlice, whPW, c.body); r.StatusCode != http.StatusBadRequest || string(r.Body) != c.want {
			t.Errorf("PATCH %v: %d %s, want 400 %s", c.body, r.StatusCode, r.Body, c.want)
		}
	}
	foreign := e.Call(http.MethodPatch, "/webhooks/"+hook.ID, whBob, whPW, map[string]any{"enabled": false})
	unknown := e.Call(http.MethodPatch, "/webhooks/"+uuid.NewString(), whBob, whPW, map[string]any{"enabled": false})
	if foreign.StatusCode != http.StatusNotFound || !bytes.Equal(foreign.Body, unknown.Body) || string(unknown.Body) != `{"message":"webhook not found"}` {
		t.Errorf("bob's PATCH of alice's endpoint: %d %s; of an unknown one: %d %s", foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
	}
	if got := whGet(t, e, hook.ID); !got.Enabled || got.URL != second.srv.URL+"/v2" {
		t.Errorf("after the refusals: %+v", got)
	}
}

// A test event goes to the one endpoint asked for, whatever it subscribed to, signed like any
// event; the JavaScript library verifies it.
func TestWebhookTestEventArrivesSigned(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	hook := whCreate(t, e, whAlice, rc, []string{webhook.TokenDelivered})
	other := whNewReceiver(t, nil)
	otherHook := whCreate(t, e, whAlice, other, nil)
	whStart(t, e)

	q := testutil.Decode[whQueued](t, e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/test", whAlice, whPW, nil), http.StatusAccepted)
	testutil.Eventually(t, 10*time.Second, "the test event", func() bool { return len(rc.delivered()) == 1 })
	whQueueDone(t, e)
	rc.check()
	d := rc.delivered()[0]
	if d.ID != q.EventID || d.Type != webhook.WebhookTest || d.Data["webhookId"] != hook.ID || d.Data["login"] != whAlice {
		t.Errorf("test event %s %s %v, asked for %s", d.ID, d.Type, d.Data, q.EventID)
	}
	if a := whAttempts(t, e, whAlice, hook.ID); len(a) != 1 || a[0].EventID != q.EventID || a[0].Type != webhook.WebhookTest || a[0].StatusCode == nil || *a[0].StatusCode != 200 {
		t.Errorf("attempts %+v", a)
	}
	if n := len(other.requests()) + len(whAttempts(t, e, whAlice, otherHook.ID)); n != 0 {
		t.Errorf("the other endpoint got %d requests or attempts", n)
	}
	whVerifyJS(t, whJS("test event", hook.Secret, d, true), whJS("test event, another endpoint's secret", otherHook.Secret, d, false))

	// A disabled endpoint is sent none; an unknown or another tenant's id answers 404.
	whPatch(t, e, hook.ID, map[string]any{"enabled": false})
	if r := e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/test", whAlice, whPW, nil); r.StatusCode != http.StatusConflict || string(r.Body) != `{"message":"webhook disabled"}` {
		t.Errorf("test of a disabled endpoint: %d %s", r.StatusCode, r.Body)
	}
	foreign := e.Call(http.MethodPost, "/webhooks/"+otherHook.ID+"/test", whBob, whPW, nil)
	unknown := e.Call(http.MethodPost, "/webhooks/"+uuid.NewString()+"/test", whBob, whPW, nil)
	if foreign.StatusCode != http.StatusNotFound || !bytes.Equal(foreign.Body, unknown.Body) {
		t.Errorf("bob's test of alice's endpoint: %d %s; of an unknown one: %d %s", foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_events`); n != 1 {
		t.Errorf("%d events recorded, want the one test event", n)
	}
}

// A delivery given up (here: when its endpoint was disabled) is sent again on request, under the
// same webhook-id; one still being tried is not.
func TestWebhookRetryOfAGivenUpDelivery(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc, failing := whFailingReceiver(t, http.StatusServiceUnavailable)
	hook := whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})
	whStart(t, e)
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return len(rc.requests()) > 0 })
	event := rc.requests()[0]
	retry := func(login, hookID, eventID string) *testutil.Response {
		t.Helper()
		return e.Call(http.MethodPost, "/webhooks/"+hookID+"/deliveries/"+eventID+"/retry", login, whPW, nil)
	}

	// Still being tried.
	if r := retry(whAlice, hook.ID, event.ID); r.StatusCode != http.StatusConflict || string(r.Body) != `{"message":"delivery still pending"}` {
		t.Errorf("retry of a pending delivery: %d %s", r.StatusCode, r.Body)
	}
	// Disabling the endpoint gives it up: its retries stop.
	whPatch(t, e, hook.ID, map[string]any{"enabled": false})
	whQueueDone(t, e)
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND failed_at IS NOT NULL AND delivered_at IS NULL`, hook.ID); n != 1 {
		t.Fatalf("%d deliveries given up", n)
	}
	tried := len(rc.requests())
	before := whAttempts(t, e, whAlice, hook.ID)
	if r := retry(whAlice, hook.ID, event.ID); r.StatusCode != http.StatusConflict || string(r.Body) != `{"message":"webhook disabled"}` {
		t.Errorf("retry to a disabled endpoint: %d %s", r.StatusCode, r.Body)
	}

	// Enabled again and answering: the retry arrives, same webhook-id, same body. Enabling starts
	// the count of failing days afresh.
	failingSince := `SELECT count(*) FROM webhooks WHERE id = $1 AND failing_since IS NOT NULL`
	if testutil.QueryInt(t, e, failingSince, hook.ID) != 1 {
		t.Error("an endpoint whose attempts failed has no failing_since")
	}
	whPatch(t, e, hook.ID, map[string]any{"enabled": true})
	if testutil.QueryInt(t, e, failingSince, hook.ID) != 0 {
		t.Error("enabling the endpoint kept its failing_since")
	}
	failing.Store(false)
	q := testutil.Decode[whQueued](t, retry(whAlice, hook.ID, event.ID), http.StatusAccepted)
	testutil.Eventually(t, 10*time.Second, "the retried delivery", func() bool { return len(rc.delivered()) == 1 })
	whQueueDone(t, e)
	rc.check()
	d := rc.delivered()[0]
	if q.EventID != event.ID || d.ID != event.ID || !bytes.Equal(d.Body, event.Body) || len(rc.requests()) != tried+1 {
		t.Errorf("retried %s (answer %s), %d requests after %d: %s", d.ID, q.EventID, len(rc.requests()), tried, d.Body)
	}
	if a := whAttempts(t, e, whAlice, hook.ID); len(a) != len(before)+1 || a[0].Attempt != before[0].Attempt+1 || a[0].StatusCode == nil || *a[0].StatusCode != 200 {
		t.Errorf("attempts after the retry: %+v (before: %d)", a, len(before))
	}
	whVerifyJS(t, whJS("retried delivery", hook.Secret, d, true))

	// Unknown events, another tenant's endpoint.
	for _, ev := range []string{uuid.NewString(), "not-an-id"} {
		if r := retry(whAlice, hook.ID, ev); r.StatusCode != http.StatusNotFound || string(r.Body) != `{"message":"delivery not found"}` {
			t.Errorf("retry of event %s: %d %s", ev, r.StatusCode, r.Body)
		}
	}
	foreign, unknown := retry(whBob, hook.ID, event.ID), retry(whBob, uuid.NewString(), event.ID)
	if foreign.StatusCode != http.StatusNotFound || !bytes.Equal(foreign.Body, unknown.Body) || string(foreign.Body) != `{"message":"webhook not found"}` {
		t.Errorf("bob's retry of alice's delivery: %d %s; of an unknown endpoint: %d %s", foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
	}

	// A delivered event may be replayed, on request only.
	testutil.Decode[whQueued](t, retry(whAlice, hook.ID, event.ID), http.StatusAccepted)
	testutil.Eventually(t, 10*time.Second, "the replayed delivery", func() bool { return len(rc.delivered()) == 2 })
	if got := rc.delivered(); got[1].ID != event.ID || !bytes.Equal(got[1].Body, event.Body) {
		t.Errorf("replayed %s %s", got[1].ID, got[1].Body)
	}
}

// A delivery whose endpoint is disabled when its turn comes is given up unsent, however it got
// there: here the endpoint is disabled behind the API's back, as a retry racing a PATCH could
// leave it (the PATCH gives up the pending deliveries it sees).
func TestWebhookDeliveryToADisabledEndpointIsGivenUp(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc, _ := whFailingReceiver(t, http.StatusInternalServerError)
	hook := whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})
	whStart(t, e)
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return len(rc.requests()) > 0 })
	testutil.Exec(t, e, `UPDATE webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'test' WHERE id = $1`, hook.ID)
	// Its job ends at its next run, long before its retries would be used up.
	whQueueDone(t, e)
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND failed_at IS NOT NULL`, hook.ID); n != 1 {
		t.Errorf("%d deliveries given up", n)
	}
}

// An endpoint every attempt to which failed for the (shortened) time is disabled, with when and
// why; the tenant's other endpoints subscribed to webhook.disabled are told; it gets nothing
// more.
func TestWebhookDisabledAfterFailing(t *testing.T) {
	t.Parallel()
	const failFor = time.Second
	e := whNewEnv(t, func(c *config.Config) { c.WebhookDisableAfter = failFor })
	down := whNewReceiver(t, func(int, whDelivery, *http.Request) int { return http.StatusBadGateway })
	downHook := whCreate(t, e, whAlice, down, nil)
	other := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, other, nil)
	filtered := whNewReceiver(t, nil)
	whCreate(t, e, whAlice, filtered, []string{webhook.UploadStored})
	bobs := whNewReceiver(t, nil)
	whCreate(t, e, whBob, bobs, nil)
	whStart(t, e)

	start := time.Now()
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	var got whWebhook
	testutil.Eventually(t, 20*time.Second, "the failing endpoint disabled", func() bool { got = whGet(t, e, downHook.ID); return !got.Enabled })
	if took := time.Since(start); took < failFor {
		t.Errorf("disabled after %s of failures, before %s", took, failFor)
	}
	if got.DisabledAt == nil || got.DisabledReason == nil || !bytes.HasPrefix([]byte(*got.DisabledReason), []byte("every delivery attempt failed since ")) {
		t.Fatalf("disabled endpoint %+v", got)
	}
	told := other.await("webhook.disabled at the other endpoint", func(d whDelivery) bool { return d.Type == webhook.WebhookDisabled })
	if told.Data["webhookId"] != downHook.ID || told.Data["url"] != downHook.URL || told.Data["reason"] != *got.DisabledReason || told.Data["login"] != nil {
		t.Errorf("webhook.disabled data %v, endpoint %+v", told.Data, got)
	}
	if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(told.Data["disabledAt"])); err != nil || !at.Equal(*got.DisabledAt) {
		t.Errorf("disabledAt %v, GET says %v", told.Data["disabledAt"], got.DisabledAt)
	}

	// Nothing more is sent to it: its delivery is given up, and no event is recorded for it.
	tried := len(down.requests())
	e.Upload(t, whAlice, "b.txt", []byte("b"))
	testutil.Eventually(t, 10*time.Second, "the next event at the other endpoint", func() bool { return len(other.delivered()) == 3 })
	whQueueDone(t, e)
	if n := len(down.requests()); n != tried {
		t.Errorf("the disabled endpoint got %d requests more", n-tried)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND failed_at IS NOT NULL`, downHook.ID); n != 1 ||
		testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, downHook.ID) != 1 {
		t.Errorf("the disabled endpoint's deliveries: %d given up", n)
	}
	if got := whTypes(filtered.delivered()); !slices.Equal(got, []string{webhook.UploadStored, webhook.UploadStored}) {
		t.Errorf("the endpoint not subscribed to webhook.disabled got %v", got)
	}
	if n := len(bobs.requests()); n != 0 {
		t.Errorf("another tenant's endpoint got %d requests", n)
	}
	if m := e.Call(http.MethodGet, "/metrics", "", "", nil); !bytes.Contains(m.Body, []byte("\nfileshare_webhook_endpoints_disabled_total 1\n")) {
		t.Error("fileshare_webhook_endpoints_disabled_total is not 1")
	}
	other.check()
	filtered.check()
}
