package webhook_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// The helpers of the webhook tests start with "wh"; the receiver they deliver to is in
// receiver_test.go.

const (
	whAlice = "alice@acme"
	whBob   = "bob@other"
	whPW    = "pw"
)

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

type whWebhook struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Events                  []string   `json:"events"`
	Secret                  string     `json:"secret"`
	CreatedBy               string     `json:"createdBy"`
	Enabled                 bool       `json:"enabled"`
	DisabledAt              *time.Time `json:"disabledAt"`
	DisabledReason          *string    `json:"disabledReason"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
}

// whCreate registers rc as a webhook of login's tenant for events (nil: all).
func whCreate(t testing.TB, e *testutil.Env, login string, rc *whReceiver, events []string) whWebhook {
	t.Helper()
	body := map[string]any{"url": rc.srv.URL + "/hook?via=test"}
	if events != nil {
		body["events"] = events
	}
	w := testutil.Decode[whWebhook](t, e.Call(http.MethodPost, "/webhooks", login, whPW, body), http.StatusCreated)
	rc.use(w.Secret)
	return w
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
	return testutil.Decode[[]whAttempt](t, e.Call(http.MethodGet, "/webhooks/"+id+"/deliveries", login, whPW, nil), http.StatusOK)
}

// whQueueDone waits until every delivery job in e's database has finished: completed (its
// event delivered), given up or cancelled. A job finishes only once its attempt has returned,
// and a delivered event is never sent again, so after this no request of the events made so
// far can still reach a receiver.
func whQueueDone(t testing.TB, e *testutil.Env) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, "every delivery job finished", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM river.river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`) == 0
	})
}
