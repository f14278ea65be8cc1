// Package lifecycle is the one start/stop primitive of fileshare's background workers: the
// purge scheduler, the webhook dispatcher, the cache coherence session, the application
// passwords' last-use touches and the log writer (after river's internal/startstop).
//
// A worker embeds a Runner and writes its Start as a call of Runner.Start with a setup
// function, which starts the worker's goroutines through a Group; the Runner gives it Stop,
// Done and Wait. Every one of them may be called any number of times, from any goroutine: a
// Start of a running worker does nothing, a Stop of a stopped one does nothing, and a worker
// that was stopped, or whose context ended, can be started again. Stop returns once every
// goroutine of the worker has returned, so that what the worker used can be closed right after.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
)

// ErrStopped is the cause (context.Cause) of a worker's context when Stop ended it, rather
// than the end of the context it was started with.
var ErrStopped = errors.New("worker stopped")

// Service is a background worker.
type Service interface {
	// Start sets the worker up and runs it in the background until Stop or the end of ctx. It
	// returns the error of a setup that failed, and then leaves nothing running.
	Start(ctx context.Context) error
	// Stop ends the worker and returns once it has stopped.
	Stop()
}

// LabelKey is the goroutine label (in goroutine profiles) that names the worker a goroutine
// belongs to; its value is the Runner's Label.
const LabelKey = "lifecycle"

// Runner runs the goroutines of one worker. Its zero value is ready to use; Name it so that
// its goroutines can be told apart in a profile.
type Runner struct {
	// Name is the worker's name in its goroutines' label.
	Name string

	op  sync.Mutex // serialises Start and Stop: held through a setup, and through a stop
	mu  sync.Mutex // guards cur, for Done
	cur *run
}

// run is one run of a worker, from a Start to the return of its last goroutine.
type run struct {
	cancel context.CancelCauseFunc
	// active counts the run's goroutines, plus one for its setup while it runs; whoever
	// brings it to zero closes done.
	active atomic.Int64
	done   chan struct{}
}

func (rn *run) release() {
	if rn.active.Add(-1) == 0 {
		close(rn.done)
	}
}

// Group starts the goroutines of one run of a worker. Use it only in the setup and in the
// goroutines it started.
type Group struct {
	ctx context.Context
	rn  *run
}

// Go runs fn in a goroutine of the worker. fn gets the worker's context and must return once
// it is done.
func (g *Group) Go(fn func(ctx context.Context)) {
	g.rn.active.Add(1)
	go func() {
		// The labels of the setup's context: a goroutine started by fn, or by a library fn
		// calls, inherits them.
		pprof.SetGoroutineLabels(g.ctx)
		defer func() {
			// Unlabelled before the release: what is left of the goroutine once a Stop has
			// returned is its exit, which runs no code of the worker's.
			pprof.SetGoroutineLabels(context.Background())
			g.rn.release()
		}()
		fn(g.ctx)
	}()
}

// Label is the value of LabelKey on the worker's goroutines: its Name and its address, so
// that two workers of the same kind are told apart.
func (r *Runner) Label() string { return fmt.Sprintf("%s@%p", r.Name, r) }

// Start runs setup, with a context that ends on Stop or with ctx, unless the worker is
// running already. setup prepares what the worker needs, starts its goroutines with g.Go and
// returns; when it fails, the goroutines it started are cancelled and waited for, and its
// error is returned. A worker whose goroutines have all returned is not running.
func (r *Runner) Start(ctx context.Context, setup func(ctx context.Context, g *Group) error) error {
	r.op.Lock()
	defer r.op.Unlock()
	select {
	case <-r.Done():
	default:
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	rn := &run{cancel: cancel, done: make(chan struct{})}
	rn.active.Store(1) // the setup's hold
	var err error
	pprof.Do(ctx, pprof.Labels(LabelKey, r.Label()), func(ctx context.Context) {
		err = setup(ctx, &Group{ctx: ctx, rn: rn})
	})
	if err != nil {
		cancel(err)
		rn.release()
		<-rn.done
		return err
	}
	r.mu.Lock()
	r.cur = rn
	r.mu.Unlock()
	rn.release()
	return nil
}

// Stop ends the worker's context and returns once every goroutine of the worker has
// returned. A Start that comes meanwhile waits for the stop, then starts the worker again.
// Stop must not be called from one of the worker's own goroutines.
func (r *Runner) Stop() {
	r.op.Lock()
	defer r.op.Unlock()
	r.mu.Lock()
	rn := r.cur
	r.mu.Unlock()
	if rn == nil {
		return
	}
	rn.cancel(ErrStopped)
	<-rn.done
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
}

// Done returns a channel that is closed once the worker is not running: at once when it is not
// running now, else when its goroutines have all returned (after Stop, or the end of its
// context).
func (r *Runner) Done() <-chan struct{} {
	r.mu.Lock()
	rn := r.cur
	r.mu.Unlock()
	if rn == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return rn.done
}

// Wait returns once the worker is not running.
func (r *Runner) Wait() { <-r.Done() }

// StartAll starts services in order. When one fails, those already started are stopped, in
// the reverse order, and its error is returned; else stop stops them all, in the reverse order.
func StartAll(ctx context.Context, services ...Service) (stop func(), err error) {
	started := make([]Service, 0, len(services))
	stop = func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}
	for _, s := range services {
		if err := s.Start(ctx); err != nil {
			stop()
			return func() {}, err
		}
		started = append(started, s)
	}
	return stop, nil
}
