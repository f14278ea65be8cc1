package logwriter

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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

// Lines written concurrently arrive whole, each writer's in its order, in far fewer writes
// than lines, and all of them by Close.
func TestLinesArriveWholeAndBatched(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := New(&out, 10*time.Millisecond)
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
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
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

// A lone line goes out within the interval, without Close.
func TestLineFlushedWithinInterval(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := New(&out, 5*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "hello")
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "hello\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	// After Close, writes go straight out.
	w.Close()
	fmt.Fprintln(w, "after")
	if out.String() != "hello\nafter\n" {
		t.Fatalf("after Close: %q", out.String())
	}
}
