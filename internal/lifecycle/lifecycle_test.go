package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/lifecycle/testsignal"
)

// worker is a Service with one loop that waits for its context, then takes a little longer
// to return, and starts a goroutine of its own with a plain go statement.
type worker struct {
	lifecycle.Runner
	setups   atomic.Int64
	running  atomic.Int64 // loops running now
	overlaps atomic.Int64 // times a loop started while another ran
	returned atomic.Int64
	cause    atomic.Value
	failWith error
	ready    testsignal.Signal[struct{}] // both goroutines run
}

func (w *worker) Start(ctx context.Context) error {
	return w.Runner.Start(ctx, func(ctx context.Context, g *lifecycle.Group) error {
		w.setups.Add(1)
		g.Go(func(ctx context.Context) {
			if w.running.Add(1) > 1 {
				w.overlaps.Add(1)
			}
			inner := make(chan struct{})
			go func() { // a goroutine the worker did not start through the group
				defer close(inner)
				w.ready.Signal(struct{}{})
				<-ctx.Done()
			}()
			<-ctx.Done()
			<-inner
			time.Sleep(5 * time.Millisecond) // the stop takes a while
			w.cause.Store(context.Cause(ctx))
			w.running.Add(-1)
			w.returned.Add(1)
		})
		return w.failWith
	})
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Start runs the worker once however often it is called; Stop returns once its goroutines,
// the ones it started by itself included, are gone; both may be called again.
func TestStartStopIdempotent(t *testing.T) {
	t.Parallel()
	w := &worker{Runner: lifecycle.Runner{Name: "test"}}
	w.ready.Init()
	w.Stop() // never started: nothing to do
	if !closed(w.Done()) {
		t.Fatal("Done of a worker never started is not closed")
	}
	for range 3 {
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.setups.Load(); n != 1 {
		t.Fatalf("%d setups for three Starts", n)
	}
	if closed(w.Done()) {
		t.Fatal("Done closed while running")
	}
	w.ready.Wait(t, 5*time.Second)
	if n, stacks := lifecycletest.Goroutines(&w.Runner); n != 2 {
		t.Fatalf("%d goroutines labelled as the worker's, want 2:\n%s", n, stacks)
	}
	done := w.Done()
	w.Stop()
	if w.returned.Load() != 1 || !closed(done) {
		t.Fatal("Stop returned before the loop")
	}
	lifecycletest.NoGoroutines(t, &w.Runner)
	if c := w.cause.Load(); c != lifecycle.ErrStopped {
		t.Fatalf("cause %v, want ErrStopped", c)
	}
	w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := w.setups.Load(); n != 2 {
		t.Fatalf("%d setups after a restart", n)
	}
	w.Stop()
	lifecycletest.NoGoroutines(t, &w.Runner)
}

// A worker whose context ends stops by itself; Wait returns then, and it can start again.
func TestContextEndStopsWorker(t *testing.T) {
	t.Parallel()
	w := &worker{Runner: lifecycle.Runner{Name: "test"}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Wait()
	if w.returned.Load() != 1 || w.cause.Load() != context.Canceled {
		t.Fatalf("returned %d, cause %v", w.returned.Load(), w.cause.Load())
	}
	lifecycletest.NoGoroutines(t, &w.Runner)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.setups.Load() != 2 || closed(w.Done()) {
		t.Fatal("not started again after its context ended")
	}
	w.Stop()
}

// A setup that fails leaves nothing running: the goroutines it started are cancelled and
// waited for, its error is returned, and a later Start tries again.
func TestFailedSetupLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	w := &worker{Runner: lifecycle.Runner{Name: "test"}, failWith: boom}
	if err := w.Start(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Start: %v, want boom", err)
	}
	if w.returned.Load() != 1 || w.cause.Load() != boom {
		t.Fatalf("returned %d, cause %v", w.returned.Load(), w.cause.Load())
	}
	if !closed(w.Done()) {
		t.Fatal("a worker whose setup failed is running")
	}
	lifecycletest.NoGoroutines(t, &w.Runner)
	w.failWith = nil
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.setups.Load() != 2 {
		t.Fatal("not started after a failed setup")
	}
	w.Stop()
	lifecycletest.NoGoroutines(t, &w.Runner)
}

// Starts and Stops from many goroutines at once never run two loops together, every Stop
// returns with the loop gone, and the last Stop leaves no goroutine.
func TestConcurrentStartStop(t *testing.T) {
	t.Parallel()
	w := &worker{Runner: lifecycle.Runner{Name: "test"}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if (g+i)%3 == 0 {
					w.Stop()
				} else if err := w.Start(context.Background()); err != nil {
					t.Error(err)
				}
				_ = w.Done()
			}
		}()
	}
	wg.Wait()
	w.Stop()
	if n := w.overlaps.Load(); n != 0 {
		t.Fatalf("%d loops started while another ran", n)
	}
	if w.running.Load() != 0 || w.returned.Load() != w.setups.Load() {
		t.Fatalf("%d setups, %d loops returned, %d running", w.setups.Load(), w.returned.Load(), w.running.Load())
	}
	lifecycletest.NoGoroutines(t, &w.Runner)
}

// recorder is a Service that records its starts and stops.
type recorder struct {
	name string
	log  *[]string
	fail bool
}

func (r recorder) Start(context.Context) error {
	if r.fail {
		return errors.New(r.name + " failed")
	}
	*r.log = append(*r.log, "start "+r.name)
	return nil
}

func (r recorder) Stop() { *r.log = append(*r.log, "stop "+r.name) }

// StartAll starts in order and stops in the reverse order; when one fails to start, those
// started before it are stopped, and nothing after it is started.
func TestStartAll(t *testing.T) {
	t.Parallel()
	var log []string
	stop, err := lifecycle.StartAll(context.Background(), recorder{"a", &log, false}, recorder{"b", &log, false})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if want := []string{"start a", "start b", "stop b", "stop a"}; !slices.Equal(log, want) {
		t.Fatalf("%v, want %v", log, want)
	}
	log = nil
	_, err = lifecycle.StartAll(context.Background(), recorder{"a", &log, false}, recorder{"b", &log, false},
		recorder{"c", &log, true}, recorder{"d", &log, false})
	if err == nil || err.Error() != "c failed" {
		t.Fatalf("err %v", err)
	}
	if want := []string{"start a", "start b", "stop b", "stop a"}; !slices.Equal(log, want) {
		t.Fatalf("%v, want %v", log, want)
	}
}
