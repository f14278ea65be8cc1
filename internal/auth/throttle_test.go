package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/testutil"
)

func TestThresholdDefaults(t *testing.T) {
	t.Parallel()
	th := auth.DefaultThresholds
	if th.LoginThreshold != 10 || th.AddrThreshold != 100 || th.AddrWindow != time.Minute {
		t.Errorf("thresholds %d per login and address, %d per address in %s; want 10 and 100 in a minute",
			th.LoginThreshold, th.AddrThreshold, th.AddrWindow)
	}
}

// The shared limiter on a real database: the back-off doubles, it belongs to the login and
// the address together, and a success from that address resets it.
func TestSharedLimiterPerLoginAndAddress(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	l := auth.NewSharedLimiter(e.Store)
	ctx := context.Background()
	const login, here, there = "carol@acme", "192.0.2.1", "198.51.100.1"
	wait := func(addr string) time.Duration {
		t.Helper()
		w, _, err := l.Check(ctx, login, addr)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for i := range 9 {
		if err := l.Fail(ctx, login, here); err != nil {
			t.Fatal(err)
		}
		if w := wait(here); w != 0 {
			t.Fatalf("after %d failures: wait %s, want none", i+1, w)
		}
	}
	if err := l.Fail(ctx, login, here); err != nil {
		t.Fatal(err)
	}
	if w := wait(here); w <= 0 || w > time.Second {
		t.Fatalf("after 10 failures: wait %s, want up to 1s", w)
	}
	if err := l.Fail(ctx, login, here); err != nil {
		t.Fatal(err)
	}
	if w := wait(here); w <= time.Second || w > 2*time.Second {
		t.Fatalf("after 11 failures: wait %s, want 1s … 2s (doubled)", w)
	}
	if w := wait(there); w != 0 {
		t.Errorf("the same login from another address: wait %s, want none", w)
	}
	if w, _, _ := l.Check(ctx, "dave@acme", here); w != 0 {
		t.Errorf("another login from the same address: wait %s, want none", w)
	}
	if err := l.Succeed(ctx, login, here); err != nil {
		t.Fatal(err)
	}
	if w := wait(here); w != 0 {
		t.Errorf("after a success: wait %s, want none", w)
	}
}

// Whatever bytes a client sends as its login, the counter's key stays short, valid text.
func TestSharedLimiterHostileLogins(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	l := auth.NewSharedLimiter(e.Store)
	ctx := context.Background()
	for _, login := range []string{"\xff@acme", "a\x00b@acme", strings.Repeat("x", 30000)} {
		if err := l.Fail(ctx, login, "192.0.2.7"); err != nil {
			t.Fatalf("Fail(%q…): %v", login[:min(len(login), 8)], err)
		}
		if _, _, err := l.Check(ctx, login, "192.0.2.7"); err != nil {
			t.Fatalf("Check(%q…): %v", login[:min(len(login), 8)], err)
		}
	}
	var longest int
	if err := e.Store.Pool.QueryRow(ctx, "SELECT max(length(key)) FROM auth_failures").Scan(&longest); err != nil {
		t.Fatal(err)
	}
	if longest > 80 {
		t.Errorf("a counter key of %d characters was stored", longest)
	}
}
