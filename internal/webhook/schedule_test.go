package webhook

import (
	"net/netip"
	"testing"
	"time"
)

// The retries of a delivery span more than a day with the default back-off, even when every
// wait is drawn at the low end of its jitter.
func TestWebhookRetryScheduleSpansMoreThanADay(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for failures := 1; failures < maxAttempts; failures++ {
		w := backoff(5*time.Second, failures)
		if failures > 1 && w < backoff(5*time.Second, failures-1) {
			t.Fatalf("wait after failure %d (%s) is shorter than the one before", failures, w)
		}
		if w > maxBackoff {
			t.Fatalf("wait after failure %d is %s, above the cap", failures, w)
		}
		total += w * 9 / 10
	}
	if total < 24*time.Hour {
		t.Fatalf("the last of %d attempts comes %s after the first, want at least 24h", maxAttempts, total)
	}
	t.Logf("the last of %d attempts comes at least %s after the first", maxAttempts, total.Round(time.Minute))
}

func TestWebhookInternalAddresses(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "100.100.100.200",
		"255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "64:ff9b::a00:1", "2002:7f00:1::",
		"198.18.0.1", "192.0.0.8", "::127.0.0.1", "::10.0.0.1", "::169.254.169.254", "64:ff9b::7f00:1", "2002:a9fe:a9fe::1",
	} {
		if !internalAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s is not refused", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "192.0.2.10", "::8.8.8.8", "2002:808:808::1"} {
		if internalAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s is refused", a)
		}
	}
}
