package auth_test

import (
	"context"
	"testing"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/testutil"
)

// The last use of an application password is written by the authenticator's background
// worker, never by a goroutine of the request: a login while the worker is stopped only queues
// it, and the worker writes it once started. Stop writes what is queued, and returns once the
// worker's goroutine is gone; the worker starts again, and the end of its context stops it too.
func TestAppPasswordTouchesAreABackgroundWorker(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	ctx := context.Background()
	pw1, err := e.Admin.AddAppPassword(ctx, "alice@acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	pw2, err := e.Admin.AddAppPassword(ctx, "alice@acme", "deploy")
	if err != nil {
		t.Fatal(err)
	}
	used := func(name string) bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM app_passwords WHERE name = $1 AND last_used_at IS NOT NULL`, name) == 1
	}
	authn, err := auth.New(e.Store, auth.NewSharedLimiter(e.Store))
	if err != nil {
		t.Fatal(err)
	}
	authn.TestSignals.Init()
	authenticate := func(pw string) {
		t.Helper()
		if _, err := authn.Authenticate(ctx, "alice@acme", pw, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	authn.Stop() // never started: nothing to do

	authenticate(pw1)
	// Nothing runs that could write it: the touch waits in the queue.
	if used("ci") {
		t.Fatal("a login wrote its touch without the worker")
	}
	for range 2 {
		if err := authn.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	authn.TestSignals.AppPasswordTouched.Wait(t, 10*time.Second)
	if !used("ci") {
		t.Fatal("the worker signalled a touch it did not write")
	}
	authn.Stop()
	lifecycletest.NoGoroutines(t, &authn.Runner)

	// Queued, then a start and a stop at once: written by the time Stop returns.
	authenticate(pw2)
	wctx, cancel := context.WithCancel(ctx)
	if err := authn.Start(wctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	authn.Wait()
	lifecycletest.NoGoroutines(t, &authn.Runner)
	if !used("deploy") {
		t.Fatal("a touch queued at the stop was not written")
	}
}
