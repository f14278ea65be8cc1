//go:build failpoints

package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

var (
	once   sync.Once
	target string
	nth    int64
	hits   atomic.Int64
)

func load() {
	spec := os.Getenv("FILESHARE_FAILPOINT")
	target, nth = spec, 1
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		if n, err := strconv.ParseInt(spec[i+1:], 10, 64); err == nil && n > 0 {
			target, nth = spec[:i], n
		}
	}
}

// Hit kills the process with SIGKILL, as a power cut or an OOM kill would, when name is the
// configured failpoint and this is its Nth hit.
func Hit(name string) {
	once.Do(load)
	if target == "" || name != target {
		return
	}
	if hits.Add(1) == nth {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never go on past the failpoint
	}
}
