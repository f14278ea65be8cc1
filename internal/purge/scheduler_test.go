package purge_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/purge"
	"fileshare/internal/testutil"
)

// The scheduler passes at once and then every interval until Stop, which returns once its
// goroutines are gone: no pass runs after it. A second Start runs no second scheduler; a
// stopped one starts again; the end of its context stops it too.
func TestSchedulerPurgesUntilStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{Interval: 20 * time.Millisecond, OrphanGrace: time.Hour, TombstoneRetention: time.Hour})
	p.TestSignals.Init()
	passes := p.TestSignals.PassDone
	expired := func(r purge.Result) bool { return r.UploadsExpired == 1 }
	p.Stop() // never started: nothing to do

	expireUpload(t, e, upload(t, e, []byte("soon gone"), ""), time.Second)
	for range 2 {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	passes.WaitUntil(t, 10*time.Second, expired)
	passes.Wait(t, 10*time.Second) // and again, at the interval
	p.Stop()
	lifecycletest.NoGoroutines(t, &p.Runner)
	p.Stop()

	stays := upload(t, e, []byte("stays"), "")
	expireUpload(t, e, stays, time.Second)
	// Its goroutines are gone: no pass can purge it now.
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads WHERE id = $1 AND purged_at IS NULL", stays); n != 1 {
		t.Fatal("upload purged after Stop")
	}

	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	passes.WaitUntil(t, 10*time.Second, expired)
	cancel()
	p.Wait()
	lifecycletest.NoGoroutines(t, &p.Runner)
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads WHERE purged_at IS NOT NULL"); n != 2 {
		t.Fatalf("%d uploads purged, want 2", n)
	}
}
