package webhook_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// A tenant whose 16 endpoints all hang holds at most FILESHARE_WEBHOOK_TENANT_CONCURRENCY (4)
// of an instance's delivery workers; another tenant's first attempt still arrives within a
// second of its commit.
func TestWebhookHangingTenantHoldsBackNoOtherTenant(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	e := whNewEnv(t, whConfig(timeout))
	var inFlightNow, inFlightPeak atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := func(_ int, _ whDelivery, r *http.Request) int {
		n := inFlightNow.Add(1)
		defer inFlightNow.Add(-1)
		for p := inFlightPeak.Load(); n > p && !inFlightPeak.CompareAndSwap(p, n); p = inFlightPeak.Load() {
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return http.StatusOK
	}
	for range webhook.MaxEndpoints {
		whCreate(t, e, whAlice, whNewReceiver(t, hang), []string{webhook.UploadStored})
	}
	fast := whNewReceiver(t, nil)
	whCreate(t, e, whBob, fast, []string{webhook.UploadStored})
	whStart(t, e)

	// Three events of alice's: 48 deliveries to endpoints that never answer.
	for i := range 3 {
		e.Upload(t, whAlice, fmt.Sprintf("a%d.txt", i), []byte("a"))
	}
	testutil.Eventually(t, 5*time.Second, "alice's endpoints hanging", func() bool { return inFlightNow.Load() > 0 })
	committed := time.Now()
	e.Upload(t, whBob, "b.txt", []byte("b"))
	testutil.Eventually(t, 2*time.Second, "bob's first attempt", func() bool { return len(fast.delivered()) == 1 })
	if d := time.Since(committed); d > time.Second {
		t.Errorf("bob's first attempt came %s after its commit, while alice's endpoints hung", d)
	}
	if peak := inFlightPeak.Load(); peak > 4 {
		t.Errorf("%d of alice's deliveries in flight at once, want at most 4 (the tenant's share)", peak)
	}
}
