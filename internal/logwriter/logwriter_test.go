package logwriter

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/lifecycle/lifecycletest"
)

// syncBuffer is a bytes.Buffer safe for the writer's goroutine and the test's.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, w *Writer, ctx context.Context) {
	t.Helper()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// Lines written concurrently arrive whole, each writer's in its order, in far fewer writes
// than lines, and all of them by Stop.
func TestLinesArriveWholeAndBatched(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := New(&out, 10*time.Millisecond)
	start(t, w, context.Background())
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%50))
			}
		}()
	}
	wg.Wait()
	w.Stop()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l, `{"g":%d,"i":%d,`, &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if out.writes >= writers*lines/10 {
		t.Fatalf("%d writes for %d lines: not batched", out.writes, writers*lines)
	}
}

// A lone line goes out within the interval, without Stop.
func TestLineFlushedWithinInterval(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := New(&out, 5*time.Millisecond)
	w.TestSignals.Init()
	start(t, w, context.Background())
	defer w.Stop()
	fmt.Fprintln(w, "hello")
	if n := w.TestSignals.Flushed.Wait(t, 5*time.Second); n != len("hello\n") || out.String() != "hello\n" {
		t.Fatalf("flushed %d bytes: %q", n, out.String())
	}
}

// Stop writes what was gathered and returns once the loop is gone; from then on, and before
// Start, writes go straight out, in order. The writer starts again, and the end of its
// context stops it like Stop.
func TestWriterStartsAndStops(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := New(&out, time.Hour) // nothing is flushed by the interval: only by a stop
	fmt.Fprintln(w, "before")
	for range 2 {
		start(t, w, context.Background())
	}
	fmt.Fprintln(w, "gathered")
	if out.String() != "before\n" {
		t.Fatalf("before the stop: %q", out.String())
	}
	w.Stop()
	lifecycletest.NoGoroutines(t, &w.Runner)
	w.Stop()
	fmt.Fprintln(w, "after")
	if want := "before\ngathered\nafter\n"; out.String() != want {
		t.Fatalf("after Stop: %q, want %q", out.String(), want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	start(t, w, ctx)
	fmt.Fprintln(w, "again")
	cancel()
	w.Wait()
	lifecycletest.NoGoroutines(t, &w.Runner)
	if want := "before\ngathered\nafter\nagain\n"; out.String() != want {
		t.Fatalf("after the context ended: %q, want %q", out.String(), want)
	}
}
