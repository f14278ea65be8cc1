// Package testsignal lets a test wait until a background worker has reached a point of its
// loop (a pass done, a lease renewed, a line flushed) instead of sleeping, after river's
// internal/testsignal. A Signal is off until a test calls Init; off, signalling it costs a nil
// check, so production code signals unconditionally.
package testsignal

import "time"

// capacity is how many values a signal keeps for a test that has not read them yet.
const capacity = 1000

// Signal is one point of a worker's loop, with a value of type T describing what happened
// there. A worker holds its signals in a TestSignals struct of its own.
type Signal[T any] struct{ ch chan T }

// Init turns the signal on. Call it before the worker starts: a worker reads the signal
// without a lock.
func (s *Signal[T]) Init() { s.ch = make(chan T, capacity) }

// Signal records that the point was reached, with v. It never blocks the worker: when the test
// has left capacity values unread, the oldest is dropped.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	for {
		select {
		case s.ch <- v:
			return
		default:
		}
		select {
		case <-s.ch:
		default:
		}
	}
}

// C is the channel of the values signalled; nil (blocking for ever) while the signal is off.
func (s *Signal[T]) C() <-chan T { return s.ch }

// TB is what Wait needs of a *testing.T (this package is linked into production binaries, so
// it does not import testing).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Wait returns the next value signalled, failing t when none comes within timeout.
func (s *Signal[T]) Wait(t TB, timeout time.Duration) T {
	t.Helper()
	if s.ch == nil {
		t.Fatalf("testsignal: waiting on a signal that was not initialised")
	}
	select {
	case v := <-s.ch:
		return v
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-s.ch:
		return v
	case <-timer.C:
		t.Fatalf("testsignal: no signal within %s", timeout)
	}
	var zero T
	return zero
}

// WaitUntil returns the first value signalled for which ok holds, failing t when none comes
// within timeout.
func (s *Signal[T]) WaitUntil(t TB, timeout time.Duration, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := s.Wait(t, max(time.Until(deadline), 0))
		if ok(v) {
			return v
		}
	}
}
