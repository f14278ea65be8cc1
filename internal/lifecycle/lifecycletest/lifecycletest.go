// Package lifecycletest checks in tests that a worker's goroutines, and those they started
// (a library's included), are gone once it has stopped.
package lifecycletest

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"fileshare/internal/lifecycle"
)

// libraryGrace is how long the goroutines that only run a library's code may outlive a
// worker's stop: libraries end some of what the worker closed just after they return (pgx
// closes a connection whose query was cancelled in a goroutine of its own, River's leader
// election ends after its client stopped, net/http's connection loops after the idle
// connections were closed).
const libraryGrace = 2 * time.Second

// Goroutines counts the goroutines that carry r's label, and returns their stacks.
func Goroutines(r *lifecycle.Runner) (n int, stacks string) {
	n, stacks, _ = goroutines(r)
	return n, stacks
}

// goroutines is Goroutines, and also how many of them run this module's code.
func goroutines(r *lifecycle.Runner) (n int, stacks string, own int) {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return -1, err.Error(), -1
	}
	// debug=1 writes one paragraph per distinct stack: "N @ addresses", the labels as
	// "# labels: {"key":"value", …}", then one "#\taddress\tfunction+offset\tfile:line" line
	// per frame.
	want := fmt.Sprintf("%q:%q", lifecycle.LabelKey, r.Label())
	module, _, _ := strings.Cut(reflect.TypeFor[lifecycle.Runner]().PkgPath(), "/")
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
		if strings.Contains(para, "\t"+module+"/") {
			own += c
		}
		out.WriteString(para)
		out.WriteString("\n\n")
	}
	return n, out.String(), own
}

// NoGoroutines fails t when, right after r's worker stopped, one of its goroutines still runs
// this module's code, or when any goroutine it started (a library's) is still there
// libraryGrace later.
func NoGoroutines(t testing.TB, r *lifecycle.Runner) {
	t.Helper()
	if _, stacks, own := goroutines(r); own != 0 {
		t.Fatalf("%d goroutines of %s still run its code after it stopped:\n%s", own, r.Label(), stacks)
	}
	deadline := time.Now().Add(libraryGrace)
	for {
		n, stacks := Goroutines(r)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of %s still running %s after it stopped:\n%s", n, r.Label(), libraryGrace, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
