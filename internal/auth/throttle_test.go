package auth_test

import (
	"fmt"
	"testing"
	"time"

	"fileshare/internal/auth"
)

// fakeClock is the throttle's clock, moved by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func newThrottle() (*auth.Throttle, *fakeClock) {
	clk := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := auth.NewThrottle()
	th.Now = clk.Now
	return th, clk
}

func TestThrottleDefaults(t *testing.T) {
	t.Parallel()
	th := auth.NewThrottle()
	if th.LoginThreshold != 10 || th.AddrThreshold != 100 || th.AddrWindow != time.Minute {
		t.Errorf("thresholds %d per login, %d per address in %s; SPEC §2 says 10 and 100 in a minute",
			th.LoginThreshold, th.AddrThreshold, th.AddrWindow)
	}
}

func TestThrottleLoginBackoffDoubles(t *testing.T) {
	t.Parallel()
	th, clk := newThrottle()
	const login, addr = "alice@acme", "192.0.2.1"
	for i := range 9 {
		th.Fail(login, addr)
		if w := th.Check(login, addr); w != 0 {
			t.Fatalf("after %d failures: wait %s, want none", i+1, w)
		}
	}
	th.Fail(login, addr) // the 10th
	if w := th.Check(login, addr); w != time.Second {
		t.Fatalf("after 10 failures: wait %s, want 1s", w)
	}
	// The lock is the login's, whatever address it comes from.
	if w := th.Check(login, "198.51.100.1"); w != time.Second {
		t.Errorf("from another address: wait %s, want 1s", w)
	}
	// Another login is not affected.
	if w := th.Check("bob@acme", addr); w != 0 {
		t.Errorf("another login: wait %s", w)
	}
	clk.Advance(400 * time.Millisecond)
	if w := th.Check(login, addr); w != 600*time.Millisecond {
		t.Errorf("400ms later: wait %s, want 600ms", w)
	}
	clk.Advance(600 * time.Millisecond)
	if w := th.Check(login, addr); w != 0 {
		t.Fatalf("when the lock ends: wait %s", w)
	}

	// Each further failure doubles the back-off…
	want := time.Second
	for i := 0; want*2 <= th.MaxBackoff; i++ {
		th.Fail(login, addr)
		want *= 2
		if w := th.Check(login, addr); w != want {
			t.Fatalf("failure %d: wait %s, want %s", 11+i, w, want)
		}
		clk.Advance(want)
	}
	if want < 8*time.Minute {
		t.Fatalf("the back-off only grew to %s", want)
	}
	// …up to the maximum, where it stays.
	for range 40 {
		th.Fail(login, addr)
		clk.Advance(th.MaxBackoff)
	}
	th.Fail(login, addr)
	if w := th.Check(login, addr); w != th.MaxBackoff {
		t.Errorf("after many failures: wait %s, want the maximum %s", w, th.MaxBackoff)
	}
	if th.MaxBackoff <= 0 || th.MaxBackoff > time.Hour {
		t.Errorf("MaxBackoff %s", th.MaxBackoff)
	}
}

func TestThrottleSuccessResets(t *testing.T) {
	t.Parallel()
	th, clk := newThrottle()
	const login, addr = "alice@acme", "192.0.2.1"
	for range 9 {
		th.Fail(login, addr)
	}
	th.Succeed(login)
	for i := range 9 {
		th.Fail(login, addr)
		if w := th.Check(login, addr); w != 0 {
			t.Fatalf("failure %d after a success: wait %s, want none", i+1, w)
		}
	}
	th.Fail(login, addr)
	if w := th.Check(login, addr); w != time.Second {
		t.Fatalf("10th consecutive failure: wait %s, want 1s", w)
	}

	// After a long back-off, a success brings the login back to a clean slate.
	for range 5 {
		clk.Advance(time.Hour)
		th.Fail(login, addr)
	}
	clk.Advance(time.Hour)
	th.Succeed(login)
	th.Fail(login, addr)
	if w := th.Check(login, addr); w != 0 {
		t.Errorf("one failure after a success: wait %s, want none", w)
	}
}

func TestThrottleAddress(t *testing.T) {
	t.Parallel()
	th, clk := newThrottle()
	const addr = "192.0.2.1"
	login := func(i int) string { return fmt.Sprintf("user%d@acme", i) }
	for i := range 99 {
		th.Fail(login(i), addr)
	}
	if w := th.Check("fresh@acme", addr); w != 0 {
		t.Fatalf("after 99 failures: wait %s, want none", w)
	}
	clk.Advance(10 * time.Second)
	th.Fail(login(99), addr)
	// Held back until the minute that began with the first failure is over.
	if w := th.Check("fresh@acme", addr); w != 50*time.Second {
		t.Fatalf("after 100 failures: wait %s, want 50s", w)
	}
	if w := th.Check("fresh@acme", "198.51.100.1"); w != 0 {
		t.Errorf("another address: wait %s", w)
	}
	// A success of some login does not clear the address.
	th.Succeed(login(0))
	if w := th.Check(login(0), addr); w != 50*time.Second {
		t.Errorf("after a success: wait %s, want 50s", w)
	}
	clk.Advance(50 * time.Second)
	if w := th.Check("fresh@acme", addr); w != 0 {
		t.Errorf("after the minute: wait %s", w)
	}
	// The count starts afresh.
	for i := range 99 {
		th.Fail(login(i), addr)
	}
	if w := th.Check("fresh@acme", addr); w != 0 {
		t.Errorf("99 failures in the next minute: wait %s", w)
	}
}

func TestThrottleAddressFailuresSpreadOverMinutes(t *testing.T) {
	t.Parallel()
	th, clk := newThrottle()
	const addr = "192.0.2.1"
	// 60 failures a minute for five minutes: an office behind NAT, not an attack.
	for m := range 5 {
		for i := range 60 {
			th.Fail(fmt.Sprintf("user%d@acme", i), addr)
			clk.Advance(time.Second)
		}
		if w := th.Check("fresh@acme", addr); w != 0 {
			t.Fatalf("minute %d: wait %s", m+1, w)
		}
	}
}
