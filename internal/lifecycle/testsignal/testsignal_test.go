package testsignal_test

import (
	"fmt"
	"testing"
	"time"

	"fileshare/internal/lifecycle/testsignal"
)

// fakeT records a failure instead of ending the test.
type fakeT struct{ failed string }

func (f *fakeT) Helper()                        {}
func (f *fakeT) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

// Off, a signal does nothing and blocks no one; on, it hands over its values in order.
func TestSignal(t *testing.T) {
	t.Parallel()
	var s testsignal.Signal[int]
	s.Signal(1) // off: a no-op
	if s.C() != nil {
		t.Fatal("an uninitialised signal has a channel")
	}
	s.Init()
	go func() {
		for i := range 3 {
			s.Signal(i)
		}
	}()
	for i := range 3 {
		if got := s.Wait(t, 5*time.Second); got != i {
			t.Fatalf("got %d, want %d", got, i)
		}
	}
	go s.Signal(7)
	go s.Signal(8)
	if got := s.WaitUntil(t, 5*time.Second, func(v int) bool { return v == 8 }); got != 8 {
		t.Fatalf("WaitUntil: %d", got)
	}
}

// A test that does not read never blocks the worker: the oldest values go.
func TestSignalNeverBlocks(t *testing.T) {
	t.Parallel()
	var s testsignal.Signal[int]
	s.Init()
	const n = 5000
	for i := range n {
		s.Signal(i)
	}
	if got := s.Wait(t, time.Second); got < n-1000 {
		t.Fatalf("oldest kept %d: the newest values should have been kept", got)
	}
}

// Wait fails the test when nothing comes in time, or when the signal is off.
func TestWaitTimesOut(t *testing.T) {
	t.Parallel()
	var s testsignal.Signal[string]
	f := &fakeT{}
	s.Wait(f, time.Millisecond)
	if f.failed == "" {
		t.Fatal("waiting on a signal that is off did not fail")
	}
	s.Init()
	f = &fakeT{}
	s.Wait(f, 10*time.Millisecond)
	if f.failed == "" {
		t.Fatal("Wait did not fail without a signal")
	}
}
