// Package lifecycletest checks in tests that a worker's goroutines, and those they started
// (a library's included), are gone once it has stopped.
package lifecycletest

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"fileshare/internal/lifecycle"
)

// Goroutines counts the goroutines that carry r's label, and returns their stacks.
func Goroutines(r *lifecycle.Runner) (n int, stacks string) {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return -1, err.Error()
	}
	// debug=1 writes one paragraph per distinct stack: "N @ addresses", the labels as
	// "# labels: {"key":"value", …}", then one "#\t…" line per frame.
	want := fmt.Sprintf("%q:%q", lifecycle.LabelKey, r.Label())
	var out strings.Builder
	for _, para := range strings.Split(buf.String(), "\n\n") {
		lines := strings.Split(para, "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[1], "# labels: ") || !strings.Contains(lines[1], want) {
			continue
		}
		count, _, _ := strings.Cut(lines[0], " ")
		c, err := strconv.Atoi(count)
		if err != nil {
			c = 1
		}
		n += c
		out.WriteString(para)
		out.WriteString("\n\n")
	}
	return n, out.String()
}

// NoGoroutines fails t when a goroutine of r's worker is still running.
func NoGoroutines(t testing.TB, r *lifecycle.Runner) {
	t.Helper()
	if n, stacks := Goroutines(r); n != 0 {
		t.Fatalf("%d goroutines of %s still running:\n%s", n, r.Label(), stacks)
	}
}

// NoGoroutinesWithin fails t when a goroutine of r's worker is still running after within.
// It is for a worker whose libraries end, just after they return, goroutines that the worker
// closed (River's leader election after its client stopped, net/http's connection loops after
// the idle connections were closed): their end follows the worker's Stop, but not before it.
func NoGoroutinesWithin(t testing.TB, r *lifecycle.Runner, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, stacks := Goroutines(r)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of %s still running %s after it stopped:\n%s", n, r.Label(), within, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
