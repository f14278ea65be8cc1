package reliability_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"fileshare/internal/testutil"
)

// The fileshare binary built with -tags failpoints, once per test binary; the tests run it
// with testutil's process harness.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func failpointBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath, binErr = testutil.BuildBinary("-tags", "failpoints")
	})
	if binErr != nil {
		t.Fatalf("building fileshare with failpoints: %v", binErr)
	}
	return binPath
}

func removeBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}
