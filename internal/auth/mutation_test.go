package auth_test

// Tests of the Authenticator's rules through the package's own API on a real database: each
// asserts a behaviour that a mutant of its guard or bound breaks (docs/mutation.md).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// authFixture is an Authenticator on a database of its own, and the admin that makes its users.
type authFixture struct {
	st    *store.Store
	admin *admin.Admin
	a     *auth.Authenticator
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	st, err := store.Open(context.Background(), testutil.NewDatabase(t), store.Options{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &authFixture{st: st, admin: admin.New(st, testutil.FastHash), a: startAuthenticator(t, st)}
}

// startAuthenticator is a running Authenticator on st, stopped when the test ends.
func startAuthenticator(t *testing.T, st *store.Store) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(st, auth.NewSharedLimiter(st))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a
}

func (f *authFixture) addUser(t *testing.T, login, password string) {
	t.Helper()
	_, tenant, err := auth.ParseLogin(login)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.AddTenant(context.Background(), tenant); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if err := f.admin.AddUser(context.Background(), login, password); err != nil {
		t.Fatal(err)
	}
}

// authn is Authenticate from addr, failing t on an error other than ErrUnauthorized or a
// ThrottledError.
func (f *authFixture) authn(t *testing.T, login, password, addr string) (auth.Principal, error) {
	t.Helper()
	p, err := f.a.Authenticate(context.Background(), login, password, addr)
	var thr *auth.ThrottledError
	if err != nil && !errors.Is(err, auth.ErrUnauthorized) && !errors.As(err, &thr) {
		t.Fatalf("Authenticate(%q): %v", login, err)
	}
	return p, err
}

func (f *authFixture) wantOK(t *testing.T, login, password, addr string) auth.Principal {
	t.Helper()
	p, err := f.authn(t, login, password, addr)
	if err != nil {
		t.Fatalf("Authenticate(%q) from %s: %v, want success", login, addr, err)
	}
	return p
}

func (f *authFixture) wantRefused(t *testing.T, login, password, addr string) {
	t.Helper()
	if _, err := f.authn(t, login, password, addr); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("Authenticate(%q) from %s: %v, want ErrUnauthorized", login, addr, err)
	}
}

func (f *authFixture) wantThrottled(t *testing.T, login, password, addr string) time.Duration {
	t.Helper()
	_, err := f.authn(t, login, password, addr)
	var thr *auth.ThrottledError
	if !errors.As(err, &thr) {
		t.Fatalf("Authenticate(%q) from %s: %v, want a ThrottledError", login, addr, err)
	}
	return thr.RetryAfter
}

// A bare name and name@default are one login: their failures add up to one counter, and the
// tenth holds the login back from that address (even with the right password), while the
// same login from another address is let in, with its canonical name and its tenant's quota.
func TestAuthenticateSpellingsShareOneCounter(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	f.addUser(t, "bob", "right")
	const here, there = "192.0.2.10", "198.51.100.10"
	for i := range auth.DefaultThresholds.LoginThreshold {
		login := "bob"
		if i%2 == 1 {
			login = "bob@default"
		}
		f.wantRefused(t, login, "wrong", here)
	}
	if wait := f.wantThrottled(t, "bob", "right", here); wait <= 0 || wait > auth.DefaultThresholds.LoginBackoff {
		t.Errorf("RetryAfter %s, want (0, %s]", wait, auth.DefaultThresholds.LoginBackoff)
	}
	p := f.wantOK(t, "bob", "right", there)
	if p.Login != "bob@default" || p.UserID == 0 || p.TenantID == 0 {
		t.Errorf("principal %+v, want bob@default with its ids", p)
	}
	if msg := (&auth.ThrottledError{RetryAfter: 3 * time.Second}).Error(); !strings.Contains(msg, "3s") {
		t.Errorf("ThrottledError says %q, without its wait", msg)
	}
}

// A success from an address resets the login's failures from it: nine failures, a success (the
// user's, like any other) and nine more failures hold nothing back.
func TestAuthenticateSuccessResetsFailures(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	f.addUser(t, "carol@acme", "right")
	const here = "192.0.2.11"
	for range 2 {
		for range auth.DefaultThresholds.LoginThreshold - 1 {
			f.wantRefused(t, "carol@acme", "wrong", here)
		}
		if p := f.wantOK(t, "carol@acme", "right", here); p.Login != "carol@acme" || p.UserID == 0 {
			t.Fatalf("a success after failures: principal %+v, want carol@acme's", p)
		}
	}
	// And without the success in between, the tenth failure holds it back.
	for range auth.DefaultThresholds.LoginThreshold {
		f.wantRefused(t, "carol@acme", "wrong", here)
	}
	f.wantThrottled(t, "carol@acme", "right", here)
}

// Logins that name nobody — malformed, or of no user — are refused and counted like wrong
// passwords, under the login as it was sent.
func TestAuthenticateNobodyIsCounted(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	f.addUser(t, "dave@acme", "right")
	for _, login := range []string{"nobody@acme", "bad\x00login"} {
		addr := "192.0.2.12"
		if strings.Contains(login, "\x00") {
			addr = "192.0.2.13"
		}
		for range auth.DefaultThresholds.LoginThreshold {
			f.wantRefused(t, login, "right", addr)
		}
		f.wantThrottled(t, login, "right", addr)
		// Another login from that address is not held back by them.
		f.wantOK(t, "dave@acme", "right", addr)
	}
}

// The memory of verified credentials never outlives them: a changed password takes effect at
// once (the old one is refused, the new one accepted), a wrong password is refused even right
// after the right one was remembered, and a disabled user is refused with a remembered
// password.
func TestAuthenticateRememberedCredentials(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	ctx := context.Background()
	f.addUser(t, "erin@acme", "first")
	const addr = "192.0.2.14"
	f.wantOK(t, "erin@acme", "first", addr)
	f.wantOK(t, "erin@acme", "first", addr) // from memory
	f.wantRefused(t, "erin@acme", "firsT", addr)
	if err := f.admin.SetPassword(ctx, "erin@acme", "second"); err != nil {
		t.Fatal(err)
	}
	f.wantRefused(t, "erin@acme", "first", addr)
	f.wantOK(t, "erin@acme", "second", addr)
	if err := f.admin.SetDisabled(ctx, "erin@acme", true); err != nil {
		t.Fatal(err)
	}
	f.wantRefused(t, "erin@acme", "second", addr)
	if err := f.admin.SetDisabled(ctx, "erin@acme", false); err != nil {
		t.Fatal(err)
	}
	f.wantOK(t, "erin@acme", "second", addr)
}

// An application password logs its user in without the slow hash; it is refused once revoked
// or while its user is disabled; its first use is recorded, and a use of one whose recorded
// use is older than a minute is recorded again.
func TestAuthenticateAppPasswords(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	ctx := context.Background()
	f.addUser(t, "frank@acme", "right")
	pw, err := f.admin.AddAppPassword(ctx, "frank@acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	const addr = "192.0.2.16"
	if p := f.wantOK(t, "frank@acme", pw, addr); p.Login != "frank@acme" {
		t.Errorf("principal %+v", p)
	}
	lastUsed := func() *time.Time {
		var at *time.Time
		if err := f.st.Pool.QueryRow(ctx, "SELECT last_used_at FROM app_passwords WHERE name = 'ci'").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	testutil.Eventually(t, 10*time.Second, "the first use to be recorded", func() bool { return lastUsed() != nil })
	// Recorded two minutes ago (by another instance, say): the next use is recorded again.
	if _, err := f.st.Pool.Exec(ctx, "UPDATE app_passwords SET last_used_at = now() - interval '2 minutes'"); err != nil {
		t.Fatal(err)
	}
	other := startAuthenticator(t, f.st)
	if _, err := other.Authenticate(ctx, "frank@acme", pw, addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the use to be recorded again", func() bool {
		at := lastUsed()
		return at != nil && time.Since(*at) < time.Minute
	})

	if err := f.admin.SetDisabled(ctx, "frank@acme", true); err != nil {
		t.Fatal(err)
	}
	f.wantRefused(t, "frank@acme", pw, addr)
	if err := f.admin.SetDisabled(ctx, "frank@acme", false); err != nil {
		t.Fatal(err)
	}
	f.wantOK(t, "frank@acme", pw, addr)
	if err := f.admin.RevokeAppPassword(ctx, "frank@acme", "ci"); err != nil {
		t.Fatal(err)
	}
	f.wantRefused(t, "frank@acme", pw, addr)
	f.wantOK(t, "frank@acme", "right", addr)
}

// The shape of an application password: only its own prefix and length are looked up by hash.
func TestAppPasswordShape(t *testing.T) {
	t.Parallel()
	pw, hash, err := auth.NewAppPassword()
	if err != nil {
		t.Fatal(err)
	}
	if got := auth.AppPasswordHash(pw); string(got) != string(hash) || len(hash) != 32 {
		t.Fatalf("AppPasswordHash(%q) = %x, want the hash made with it, %x", pw, got, hash)
	}
	for _, other := range []string{pw[:len(pw)-1], pw + "x", "fsap", strings.TrimPrefix(pw, "fsap_"), "right"} {
		if h := auth.AppPasswordHash(other); h != nil {
			t.Errorf("AppPasswordHash(%q) = %x, want nil: not an application password", other, h)
		}
	}
}

// Concurrent wrong passwords hash at most the bound at once, and the bound is used.
func TestAuthenticateHashConcurrency(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	f.addUser(t, "gina@acme", "right")
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each from its own address, so that nothing is held back.
			f.wantRefused(t, "gina@acme", "wrong", fmt.Sprintf("192.0.2.%d", 20+i))
		}()
	}
	wg.Wait()
	now, peak, limit := f.a.HashConcurrency()
	if now != 0 || peak < 1 || peak > int64(limit) || limit < 2 {
		t.Fatalf("hashing now %d, peak %d, limit %d: want 0, 1 … limit, limit ≥ 2", now, peak, limit)
	}
}

// The memory of credentials is bounded: past maxCached logins, one is forgotten for each new one.
func TestCredentialMemoryIsBounded(t *testing.T) {
	t.Parallel()
	a, err := auth.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range auth.MaxCached + 10 {
		auth.Remember(a, "user"+strconv.Itoa(i))
		if n, want := auth.Remembered(a), min(i+1, auth.MaxCached); n != want {
			t.Fatalf("after %d logins %d remembered, want %d", i+1, n, want)
		}
	}
}

// Passwords of exactly the longest length are hashed and verified; one byte more is refused.
func TestPasswordLengthBound(t *testing.T) {
	t.Parallel()
	longest := strings.Repeat("p", auth.MaxPasswordLen)
	h, err := auth.HashPassword(longest, cheap)
	if err != nil {
		t.Fatalf("a password of %d bytes: %v", auth.MaxPasswordLen, err)
	}
	if ok, err := auth.VerifyPassword(h, longest); !ok || err != nil {
		t.Fatalf("VerifyPassword of the longest password = %v, %v", ok, err)
	}
	if _, err := auth.HashPassword(longest+"p", cheap); err == nil {
		t.Fatal("a password over the bound was hashed")
	}
}

// A counter is stale only once it can hold nothing back: past the longest back-off and the
// address window together.
func TestStaleAfter(t *testing.T) {
	t.Parallel()
	th := auth.Thresholds{MaxBackoff: 15 * time.Minute, AddrWindow: time.Minute}
	if got := th.StaleAfter(); got != 16*time.Minute {
		t.Fatalf("StaleAfter = %s, want 16m", got)
	}
}

// An address is held back after AddrThreshold failures of any logins within the window, and
// not before: the 100th failure, each of another login, holds back every login from it, for
// at most the window, and no other address.
func TestAddressThreshold(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	l := auth.NewSharedLimiter(f.st)
	ctx := context.Background()
	const here, there = "192.0.2.30", "192.0.2.31"
	check := func(login, addr string) time.Duration {
		t.Helper()
		w, _, err := l.Check(ctx, login, addr)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	th := auth.DefaultThresholds
	for i := range th.AddrThreshold - 1 {
		if err := l.Fail(ctx, fmt.Sprintf("user%d@acme", i), here); err != nil {
			t.Fatal(err)
		}
	}
	if w := check("fresh@acme", here); w != 0 {
		t.Fatalf("after %d failures of the address: wait %s, want none", th.AddrThreshold-1, w)
	}
	if err := l.Fail(ctx, "last@acme", here); err != nil {
		t.Fatal(err)
	}
	if w := check("fresh@acme", here); w <= 0 || w > th.AddrWindow {
		t.Fatalf("after %d failures of the address: wait %s, want (0, %s]", th.AddrThreshold, w, th.AddrWindow)
	}
	if w := check("fresh@acme", there); w != 0 {
		t.Fatalf("another address: wait %s, want none", w)
	}
}
