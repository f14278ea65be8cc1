package webhook_test

// Tests of secret rotation and of the reasons of a refused URL, through the HTTP API.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

type whRotated struct {
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
}

// whVerifies reports whether the Go reference library verifies d with secret alone.
func whVerifies(t *testing.T, secret string, d whDelivery) bool {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(d.Body, d.Header) == nil
}

// During a rotation's overlap every delivery carries two signatures, the new secret's and the
// previous one's, each of which verifies on its own (Go and JavaScript libraries); after it,
// only the new secret's. A rotation during an overlap drops the older secret at once.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	e := whNewEnv(t)
	rc := whNewReceiver(t, nil)
	hook := whCreate(t, e, whAlice, rc, []string{webhook.UploadStored})
	whStart(t, e)
	rotate := func(body any) whRotated {
		t.Helper()
		r := testutil.Decode[whRotated](t, e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/rotate-secret", whAlice, whPW, body), http.StatusOK)
		rc.use(r.Secret)
		return r
	}
	// sendTest sends a test event and returns its delivery.
	sendTest := func() whDelivery {
		t.Helper()
		q := testutil.Decode[whQueued](t, e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/test", whAlice, whPW, nil), http.StatusAccepted)
		return rc.await("the test event", func(d whDelivery) bool { return d.ID == q.EventID })
	}
	signatures := func(d whDelivery) int { return len(strings.Fields(d.Header.Get("webhook-signature"))) }

	for _, bad := range []struct{ body, msg string }{
		{`{"overlapSeconds":-1}`, "invalid overlapSeconds"},
		{`{"overlapSeconds":604801}`, "invalid overlapSeconds"},
		{`{"overlapSeconds":1.5}`, "invalid overlapSeconds"},
		{`{"overlapSeconds":"60"}`, "invalid JSON body"},
		{`{"overlap":60}`, "invalid JSON body"},
	} {
		if r := e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/rotate-secret", whAlice, whPW, bad.body); r.StatusCode != http.StatusBadRequest || string(r.Body) != `{"message":"`+bad.msg+`"}` {
			t.Errorf("rotate %s: %d %s", bad.body, r.StatusCode, r.Body)
		}
	}
	old := hook.Secret
	rot := rotate(map[string]any{"overlapSeconds": 3600})
	if rot.Secret == old || !strings.HasPrefix(rot.Secret, "whsec_") || rot.PreviousSecretExpiresAt == nil ||
		time.Until(*rot.PreviousSecretExpiresAt) < 59*time.Minute || time.Until(*rot.PreviousSecretExpiresAt) > 61*time.Minute {
		t.Fatalf("rotated %+v", rot)
	}
	if got := whGet(t, e, hook.ID); got.PreviousSecretExpiresAt == nil || !got.PreviousSecretExpiresAt.Equal(*rot.PreviousSecretExpiresAt) || got.Secret != "" {
		t.Errorf("GET during the overlap: %+v", got)
	}

	// During the overlap: an event and a test event, each verified with either secret alone.
	e.Upload(t, whAlice, "a.txt", []byte("a"))
	testutil.Eventually(t, 10*time.Second, "the event", func() bool { return len(rc.delivered()) == 1 })
	during := []whDelivery{rc.delivered()[0], sendTest()}
	var js []whJSCase
	for _, d := range during {
		if signatures(d) != 2 || !whVerifies(t, old, d) || !whVerifies(t, rot.Secret, d) {
			t.Errorf("%s during the overlap: signature %q", d.Type, d.Header.Get("webhook-signature"))
		}
		js = append(js, whJS(d.Type+" during the overlap, new secret", rot.Secret, d, true),
			whJS(d.Type+" during the overlap, previous secret", old, d, true))
	}
	// The new secret signs first.
	first := during[1]
	first.Header = first.Header.Clone()
	first.Header.Set("webhook-signature", strings.Fields(first.Header.Get("webhook-signature"))[0])
	if !whVerifies(t, rot.Secret, first) {
		t.Error("the first signature is not the new secret's")
	}

	// Once the overlap is over, only the new secret signs.
	testutil.Exec(t, e, `UPDATE webhooks SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, hook.ID)
	after := sendTest()
	if signatures(after) != 1 || !whVerifies(t, rot.Secret, after) || whVerifies(t, old, after) {
		t.Errorf("after the overlap: signature %q", after.Header.Get("webhook-signature"))
	}
	if got := whGet(t, e, hook.ID); got.PreviousSecretExpiresAt != nil {
		t.Errorf("GET after the overlap: %+v", got)
	}
	js = append(js, whJS("after the overlap, new secret", rot.Secret, after, true),
		whJS("after the overlap, previous secret", old, after, false))
	whVerifyJS(t, js...)

	// Without a body the overlap is a day; a rotation with none ends it at once, and the secret
	// before the last is dropped too.
	def := rotate(nil)
	if def.PreviousSecretExpiresAt == nil || time.Until(*def.PreviousSecretExpiresAt) < 23*time.Hour || time.Until(*def.PreviousSecretExpiresAt) > 25*time.Hour {
		t.Errorf("default overlap: %+v", def)
	}
	now := rotate(map[string]any{"overlapSeconds": 0})
	if now.PreviousSecretExpiresAt != nil {
		t.Errorf("overlap 0: %+v", now)
	}
	last := sendTest()
	if signatures(last) != 1 || !whVerifies(t, now.Secret, last) || whVerifies(t, def.Secret, last) || whVerifies(t, rot.Secret, last) {
		t.Errorf("after a rotation without overlap: signature %q", last.Header.Get("webhook-signature"))
	}
	whQueueDone(t, e)
	rc.check()
	for _, s := range []string{old, rot.Secret, def.Secret, now.Secret} {
		if strings.Contains(e.Logs.String(), strings.TrimPrefix(s, "whsec_")) {
			t.Error("the log shows a webhook secret")
		}
	}
	if r := e.Call(http.MethodPost, "/webhooks/"+hook.ID+"/rotate-secret", whBob, whPW, nil); r.StatusCode != http.StatusNotFound || string(r.Body) != `{"message":"webhook not found"}` {
		t.Errorf("bob rotating alice's secret: %d %s", r.StatusCode, r.Body)
	}
}

// A refused URL's answer keeps its fixed message and says why in reason, at creation and in a
// PATCH.
func TestWebhookInvalidURLReasons(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t) // FILESHARE_WEBHOOK_ALLOW_PRIVATE off
	e.AddUser(whAlice, whPW)
	hook := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": "https://192.0.2.10/hook"}), http.StatusCreated)
	for _, c := range []struct{ url, reason string }{
		{"", "url is required"},
		{"https://192.0.2.10/" + strings.Repeat("a", 2048), "longer than 2048 characters"},
		{" https://192.0.2.10/", "leading or trailing white space"},
		{"example.com/hook", "not an absolute URL"},
		{"https://", "not an absolute URL"},
		{"//192.0.2.10/", "not an absolute URL"},
		{"gopher://192.0.2.10/", "scheme must be http or https"},
		{"mailto:ops@example.com", "scheme must be http or https"},
		{"https://user:pw@192.0.2.10/", "credentials are not allowed in the URL"},
		{"https://192.0.2.10/#frag", "a fragment is not allowed"},
		{"https://192.0.2.10:99999/", "invalid port"},
		{"http://10.0.0.1/hook", "is an internal address"},
		{"http://169.254.169.254/latest/meta-data/", "is an internal address"},
		{"http://[::ffff:127.0.0.1]/", "is an internal address"},
		{"http://localhost:3001/", "resolves to an internal address"},
		{"https://nothing.invalid/hook", "host does not resolve"},
	} {
		want := `{"message":"invalid webhook url","reason":"` + c.reason + `"}`
		if r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{"url": c.url}); r.StatusCode != http.StatusBadRequest || string(r.Body) != want {
			t.Errorf("POST %q: %d %s, want %s", c.url, r.StatusCode, r.Body, want)
		}
		if r := e.Call(http.MethodPatch, "/webhooks/"+hook.ID, whAlice, whPW, map[string]any{"url": c.url}); r.StatusCode != http.StatusBadRequest || string(r.Body) != want {
			t.Errorf("PATCH %q: %d %s, want %s", c.url, r.StatusCode, r.Body, want)
		}
	}
	if r := e.Call(http.MethodPost, "/webhooks", whAlice, whPW, map[string]any{}); r.StatusCode != http.StatusBadRequest || string(r.Body) != `{"message":"invalid webhook url","reason":"url is required"}` {
		t.Errorf("no url: %d %s", r.StatusCode, r.Body)
	}
	if got := testutil.Decode[whWebhook](t, e.Call(http.MethodGet, "/webhooks/"+hook.ID, whAlice, whPW, nil), http.StatusOK); got.URL != "https://192.0.2.10/hook" {
		t.Errorf("after the refused PATCHes: %+v", got)
	}
	if !strings.Contains(e.Logs.String(), "message=invalid webhook url, status=400") {
		t.Error("the error line of a refused URL is not the usual one")
	}
}
