package httpapi_test

import (
	"net/http"
	"testing"

	"fileshare/internal/testutil"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	r := e.Do(e.NewRequest(http.MethodGet, "/healthz", "", "", nil))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.Body)
	}
	r = e.Do(e.NewRequest(http.MethodGet, "/readyz", "", "", nil))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.Body)
	}
}
