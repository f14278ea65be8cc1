package httpapi_test

// This file is over 400 lines: Basic Auth, throttling and application passwords through the HTTP API, with their shared probes.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// The helpers of this file start with "au" so that they cannot collide with those of the other
// test files of the package.

// auProbe sends a request that needs nothing but authentication: DELETE of an upload that does
// not exist answers 404 "upload not found" once the caller is authenticated. header holds
// extra name/value pairs.
func auProbe(e *testutil.Env, login, password string, header ...string) *testutil.Response {
	e.T.Helper()
	req := e.NewRequest(http.MethodDelete, "/uploads/"+uuid.NewString(), login, password, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.Do(req)
}

// auWantIn fails unless r is the answer of an authenticated probe.
func auWantIn(e *testutil.Env, r *testutil.Response, what string) {
	e.T.Helper()
	if r.StatusCode != http.StatusNotFound || !strings.Contains(string(r.Body), "upload not found") {
		e.T.Fatalf("%s: %d %s, want to be let in (404 upload not found)", what, r.StatusCode, r.Body)
	}
}

// auWantUnauthorized fails unless r is the 401 of docs/behaviour.md §1, logged as docs/behaviour.md §2 says.
func auWantUnauthorized(e *testutil.Env, r *testutil.Response, what string) {
	e.T.Helper()
	if r.StatusCode != http.StatusUnauthorized {
		e.T.Fatalf("%s: %d %s, want 401", what, r.StatusCode, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="fileshare"` {
		e.T.Errorf("%s: WWW-Authenticate %q", what, got)
	}
	e.WantErrorLogged(r, loggedPath(r.Request.URL.Path), http.StatusUnauthorized, "unauthorized")
}

// loggedPath is path as the log shows it when it holds a capability (docs/behaviour.md §14): a
// simple upload's id or a tus upload's id is redacted.
func loggedPath(path string) string {
	segs := strings.Split(path, "/")
	if len(segs) == 3 && (segs[1] == "uploads" || segs[1] == "tus") && segs[2] != "" {
		return "/" + segs[1] + "/<redacted>"
	}
	return path
}

// auWantThrottled fails unless r is the 429 of docs/behaviour.md §1 with a Retry-After of 1 … maxWait seconds.
func auWantThrottled(e *testutil.Env, r *testutil.Response, maxWait int, what string) {
	e.T.Helper()
	if r.StatusCode != http.StatusTooManyRequests {
		e.T.Fatalf("%s: %d %s, want 429", what, r.StatusCode, r.Body)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > maxWait {
		e.T.Errorf("%s: Retry-After %q, want whole seconds in 1…%d", what, r.Header.Get("Retry-After"), maxWait)
	}
	e.WantErrorLogged(r, loggedPath(r.Request.URL.Path), http.StatusTooManyRequests, "too many failed login attempts")
}

// TestAuthentication covers docs/behaviour.md §1 except throttling. Its subtests share one service and run
// in parallel with users of their own; all their failures together stay far below the 100 per
// address that would throttle the test client.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)

	t.Run("missing or wrong credentials", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("alice@acme", "right-pw")
		e.AddUser("zed@other", "zed-pw")
		basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
		for what, authz := range map[string]string{
			"no Authorization":           "",
			"another scheme":             "Bearer right-pw",
			"not base64":                 "Basic !!!not-base64!!!",
			"no colon":                   basic("alice@acme"),
			"wrong password":             basic("alice@acme:wrong-pw"),
			"empty password":             basic("alice@acme:"),
			"password of another user":   basic("alice@acme:zed-pw"),
			"password with a suffix":     basic("alice@acme:right-pwx"),
			"unknown user":               basic("mallory@acme:right-pw"),
			"unknown tenant":             basic("alice@acme.example:right-pw"),
			"user in another tenant":     basic("alice@other:right-pw"),
			"empty name":                 basic("@acme:right-pw"),
			"empty tenant":               basic("alice@:right-pw"),
			"control character in login": basic("alice\n@acme:right-pw"),
			"huge password":              basic("alice@acme:" + strings.Repeat("p", 5000)),
		} {
			req := e.NewRequest(http.MethodDelete, "/uploads/"+uuid.NewString(), "", "", nil)
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			auWantUnauthorized(e, e.Do(req), what)
		}
		// The right credentials still work: none of that locked the login.
		auWantIn(e, auProbe(e, "alice@acme", "right-pw"), "right password")
		// Logs never hold a password or an Authorization header.
		logs := e.Logs.String()
		for _, secret := range []string{"right-pw", "wrong-pw", "zed-pw", "Basic ", base64.StdEncoding.EncodeToString([]byte("alice@acme:right-pw"))} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log contains %q", secret)
			}
		}
	})

	t.Run("login split at the last @", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("alice@example.com@corp", "pw-corp")
		auWantIn(e, auProbe(e, "alice@example.com@corp", "pw-corp"), "alice@example.com@corp")
		// Split at the first @, it would be user alice of tenant example.com@corp.
		auWantUnauthorized(e, auProbe(e, "alice@example.com", "pw-corp"), "alice@example.com")

		a := upCreate(e, "alice@example.com@corp", "pw-corp", testutil.FilePart("c.txt", []byte("c")))
		var user, tenant, createdBy string
		if err := e.Store.Pool.QueryRow(context.Background(), `
			SELECT u.name, t.name, up.created_by FROM uploads up
			JOIN tenants t ON t.id = up.tenant_id JOIN users u ON u.tenant_id = t.id
			WHERE up.id = $1`, a.ID).Scan(&user, &tenant, &createdBy); err != nil {
			t.Fatal(err)
		}
		if user != "alice@example.com" || tenant != "corp" || createdBy != "alice@example.com@corp" {
			t.Errorf("user %q tenant %q created_by %q, want alice@example.com, corp, alice@example.com@corp", user, tenant, createdBy)
		}
	})

	t.Run("bare login is of tenant default", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("dora", "dora-pw")
		var tenant string
		if err := e.Store.Pool.QueryRow(context.Background(),
			"SELECT t.name FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.name = 'dora'").Scan(&tenant); err != nil || tenant != "default" {
			t.Fatalf("dora is in tenant %q (%v), want default", tenant, err)
		}
		auWantIn(e, auProbe(e, "dora", "dora-pw"), "dora")
		auWantIn(e, auProbe(e, "dora@default", "dora-pw"), "dora@default")
		// One user, one tenant: what dora uploads, dora@default may delete.
		a := upCreate(e, "dora", "dora-pw", testutil.FilePart("d.txt", []byte("d")))
		if r := e.Do(e.NewRequest(http.MethodDelete, "/uploads/"+a.ID, "dora@default", "dora-pw", nil)); r.StatusCode != http.StatusNoContent {
			t.Errorf("dora@default deleting dora's upload: %d %s", r.StatusCode, r.Body)
		}
	})

	t.Run("same name in two tenants", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("sam@t1", "sam-one")
		e.AddUser("sam@t2", "sam-two")
		auWantIn(e, auProbe(e, "sam@t1", "sam-one"), "sam@t1")
		auWantIn(e, auProbe(e, "sam@t2", "sam-two"), "sam@t2")
		auWantUnauthorized(e, auProbe(e, "sam@t1", "sam-two"), "sam@t1 with the password of sam@t2")

		// A user of t2 sees nothing of t1: a foreign id answers like an unknown one.
		a := upCreate(e, "sam@t1", "sam-one", testutil.FilePart("t1.txt", []byte("t1")))
		foreign := e.Do(e.NewRequest(http.MethodDelete, "/uploads/"+a.ID, "sam@t2", "sam-two", nil))
		unknown := auProbe(e, "sam@t2", "sam-two")
		if foreign.StatusCode != http.StatusNotFound || string(foreign.Body) != string(unknown.Body) {
			t.Errorf("foreign DELETE %d %s, unknown %d %s: want identical 404s", foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
		}
		if r := upGet(e, http.MethodGet, "/uploads/"+a.ID); r.StatusCode != http.StatusOK {
			t.Errorf("t1's upload after t2's DELETE: %d", r.StatusCode)
		}
	})

	t.Run("disable and enable take effect at once", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("carl@acme", "carl-pw")
		ctx := context.Background()
		for round := range 2 {
			// Twice in a row, so the second is answered from the credential cache.
			auWantIn(e, auProbe(e, "carl@acme", "carl-pw"), fmt.Sprintf("round %d, before disable", round))
			auWantIn(e, auProbe(e, "carl@acme", "carl-pw"), fmt.Sprintf("round %d, cached", round))
			if err := e.Admin.SetDisabled(ctx, "carl@acme", true); err != nil {
				t.Fatal(err)
			}
			auWantUnauthorized(e, auProbe(e, "carl@acme", "carl-pw"), fmt.Sprintf("round %d, right after disable", round))
			if err := e.Admin.SetDisabled(ctx, "carl@acme", false); err != nil {
				t.Fatal(err)
			}
			auWantIn(e, auProbe(e, "carl@acme", "carl-pw"), fmt.Sprintf("round %d, right after enable", round))
		}
	})

	t.Run("passwd takes effect at once", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("pat@acme", "old-pw")
		auWantIn(e, auProbe(e, "pat@acme", "old-pw"), "old password")
		auWantIn(e, auProbe(e, "pat@acme", "old-pw"), "old password, cached")
		if err := e.Admin.SetPassword(context.Background(), "pat@acme", "new-pw"); err != nil {
			t.Fatal(err)
		}
		auWantUnauthorized(e, auProbe(e, "pat@acme", "old-pw"), "old password right after passwd")
		auWantIn(e, auProbe(e, "pat@acme", "new-pw"), "new password")
		auWantIn(e, auProbe(e, "pat@acme", "new-pw"), "new password, cached")
		auWantUnauthorized(e, auProbe(e, "pat@acme", "old-pw"), "old password once the new one is cached")
		// Setting the same password again still works (a fresh hash, a fresh salt).
		if err := e.Admin.SetPassword(context.Background(), "pat@acme", "new-pw"); err != nil {
			t.Fatal(err)
		}
		auWantIn(e, auProbe(e, "pat@acme", "new-pw"), "new password set again")
	})

	t.Run("deleted user refused at once", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("del@acme", "del-pw")
		auWantIn(e, auProbe(e, "del@acme", "del-pw"), "before delete")
		if err := e.Admin.DeleteUser(context.Background(), "del@acme"); err != nil {
			t.Fatal(err)
		}
		auWantUnauthorized(e, auProbe(e, "del@acme", "del-pw"), "right after delete")
		// A new user of the same name does not inherit the old password.
		e.AddUser("del@acme", "other-pw")
		auWantUnauthorized(e, auProbe(e, "del@acme", "del-pw"), "old password of a re-created user")
		auWantIn(e, auProbe(e, "del@acme", "other-pw"), "re-created user")
	})
}

// auWantLockout sends 10 failed attempts (fail(round, i)) and then next(round), which must be
// throttled. The lock lasts one second after the 10th failure: should a loaded machine take
// longer than that between the 10th failure and the next attempt, the round proves nothing and
// another round starts (next must leave the login with a clean count, or each round use
// logins of its own). Whenever the next attempt did come within the second, it must be a 429.
func auWantLockout(e *testutil.Env, fail func(round, i int) *testutil.Response, next func(round int) *testutil.Response) {
	e.T.Helper()
	for round := range 3 {
		var sent time.Time
		for i := range 10 {
			sent = time.Now()
			auWantUnauthorized(e, fail(round, i), fmt.Sprintf("round %d, failure %d", round, i+1))
		}
		r := next(round)
		elapsed := time.Since(sent)
		if r.StatusCode == http.StatusTooManyRequests {
			auWantThrottled(e, r, 1, "the attempt after 10 failures")
			return
		}
		if elapsed < time.Second {
			e.T.Fatalf("attempt %s after the 10th failure: %d %s, want 429", elapsed, r.StatusCode, r.Body)
		}
		e.T.Logf("round %d: %s between the 10th failure and the next attempt, longer than the lock; again", round, elapsed)
	}
	e.T.Fatal("the machine is too slow to see a one-second lock in three rounds")
}

// TestLoginThrottle covers the per-login back-off of docs/behaviour.md §1 (its doubling is unit-tested in
// package auth). The subtests use logins of their own; together they fail well below the 100
// per address.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)

	t.Run("locked after 10 consecutive failures", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("alice@acme", "pw")
		e.AddUser("bob@acme", "pw")
		auWantLockout(e,
			func(_, _ int) *testutil.Response { return auProbe(e, "alice@acme", "wrong") },
			// The lock holds even for the right password.
			func(int) *testutil.Response { return auProbe(e, "alice@acme", "pw") })
		// Another login from the same address is not affected.
		auWantIn(e, auProbe(e, "bob@acme", "pw"), "another login")
	})

	t.Run("a success resets the count", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("carol@acme", "pw")
		for round := range 2 {
			for i := range 9 {
				auWantUnauthorized(e, auProbe(e, "carol@acme", "wrong"), fmt.Sprintf("round %d, failure %d", round, i+1))
			}
			auWantIn(e, auProbe(e, "carol@acme", "pw"), fmt.Sprintf("round %d, success after 9 failures", round))
		}
	})

	t.Run("aliases of one login share the count", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		e.AddUser("dave", "pw")
		// "dave" and "dave@default" are the same login.
		auWantLockout(e,
			func(_, i int) *testutil.Response {
				if i%2 == 1 {
					return auProbe(e, "dave@default", "wrong")
				}
				return auProbe(e, "dave", "wrong")
			},
			func(int) *testutil.Response { return auProbe(e, "dave", "pw") })
	})

	t.Run("unknown logins are throttled too", func(t *testing.T) {
		t.Parallel()
		e := env.Sub(t)
		ghost := func(round int) string { return fmt.Sprintf("ghost%d@acme", round) }
		auWantLockout(e,
			func(round, _ int) *testutil.Response { return auProbe(e, ghost(round), "guess") },
			func(round int) *testutil.Response { return auProbe(e, ghost(round), "guess") })
	})
}

// auAddressUsers adds n users u00…, a password "pw" each, for the per-address tests.
func auAddressUsers(e *testutil.Env, n int) []string {
	logins := make([]string, n)
	for i := range logins {
		logins[i] = fmt.Sprintf("u%02d@acme", i)
		e.AddUser(logins[i], "pw")
	}
	return logins
}

// auFail sends count failed attempts spread over logins (never 10 for one login), each with the
// extra header pairs header(i) returns.
func auFail(e *testutil.Env, logins []string, from, count int, header func(i int) []string) {
	e.T.Helper()
	for i := from; i < from+count; i++ {
		r := auProbe(e, logins[i%len(logins)], "wrong", header(i)...)
		if r.StatusCode != http.StatusUnauthorized {
			e.T.Fatalf("failure %d (%s): %d %s, want 401", i+1, logins[i%len(logins)], r.StatusCode, r.Body)
		}
	}
}

func TestAddressThrottle(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	logins := auAddressUsers(e, 20)
	e.AddUser("fresh1@acme", "pw")
	e.AddUser("fresh2@acme", "pw")
	none := func(int) []string { return nil }

	// 99 failures in a minute, 5 or fewer per login: not yet throttled. A success does not
	// reset the address's count.
	auFail(e, logins, 0, 99, none)
	auWantIn(e, auProbe(e, "fresh1@acme", "pw"), "after 99 failures from one address")
	// The 100th: the address is held back, whatever login it tries next.
	auFail(e, logins, 99, 1, none)
	auWantThrottled(e, auProbe(e, "fresh2@acme", "pw"), 60, "a fresh login after 100 failures from one address")
	auWantThrottled(e, auProbe(e, "fresh1@acme", "pw"), 60, "a login that succeeded before")
}

func TestForwardedForIgnoredWithoutTrustedProxy(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	logins := auAddressUsers(e, 20)
	e.AddUser("fresh@acme", "pw")

	// Every failure claims another client address: none of it is believed.
	auFail(e, logins, 0, 100, func(i int) []string {
		ip := fmt.Sprintf("198.51.100.%d", i)
		return []string{"X-Forwarded-For", ip, "X-Real-IP", ip}
	})
	auWantThrottled(e, auProbe(e, "fresh@acme", "pw", "X-Forwarded-For", "192.0.2.1"), 60, "spoofed X-Forwarded-For")
	auWantThrottled(e, auProbe(e, "fresh@acme", "pw"), 60, "no X-Forwarded-For")
}

func TestForwardedForFromTrustedProxy(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	logins := auAddressUsers(e, 20)
	e.AddUser("fresh@acme", "pw")

	// The test client is the trusted proxy; the failures come from one client behind it.
	auFail(e, logins, 0, 100, func(int) []string { return []string{"X-Forwarded-For", "203.0.113.7"} })
	auWantThrottled(e, auProbe(e, "fresh@acme", "pw", "X-Forwarded-For", "203.0.113.7"), 60, "the failing client")
	// Behind a chain of trusted proxies, it is the same client.
	auWantThrottled(e, auProbe(e, "fresh@acme", "pw", "X-Forwarded-For", "203.0.113.7, 127.0.0.2"), 60, "the failing client via two proxies")

	// Other clients behind the proxy, and the proxy itself, are not held back.
	r := auProbe(e, "fresh@acme", "pw", "X-Forwarded-For", "203.0.113.8", "X-Request-ID", "other-client")
	auWantIn(e, r, "another client behind the proxy")
	auWantIn(e, auProbe(e, "fresh@acme", "pw"), "the proxy's own requests")
	// The failing client cannot hide behind an address it makes up: the rightmost address the
	// trusted proxy did not add is the client.
	auWantThrottled(e, auProbe(e, "fresh@acme", "pw", "X-Forwarded-For", "192.0.2.99, 203.0.113.7"), 60, "the failing client with a made-up first hop")

	// The access log names the client behind the proxy.
	testutil.Eventually(t, 5*time.Second, "the access log line of the other client", func() bool {
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			var l struct {
				Msg, Client string
				RequestID   string `json:"request_id"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && l.RequestID == "other-client" {
				if l.Client != "203.0.113.8" {
					t.Errorf("access log client %q, want 203.0.113.8", l.Client)
				}
				return true
			}
		}
		return false
	})
}

// TestHostileCredentialsAnswer401: a login that is not valid UTF-8, holds NUL or is kilobytes
// long, and a password with NUL, invalid UTF-8 or tens of kilobytes (below the 64 KiB of
// headers that serve accepts), are wrong credentials: 401 with WWW-Authenticate, never a 500.
// The throttle's counters stay short keys whatever the login was.
func TestHostileCredentialsAnswer401(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "right-pw")
	for _, c := range []struct{ what, login, password string }{
		{"login not UTF-8", "\xff@acme", "right-pw"},
		{"login with invalid UTF-8 in the tenant", "alice@acm\xc3", "right-pw"},
		{"login with a surrogate", "\xed\xa0\x80@acme", "right-pw"},
		{"login with NUL", "ali\x00ce@acme", "right-pw"},
		{"login with NUL in the tenant", "alice@ac\x00me", "right-pw"},
		{"login of 2.8 KB", strings.Repeat("x", 2800) + "@acme", "right-pw"},
		{"login of 30 KB", strings.Repeat("é", 15000) + "@acme", "right-pw"},
		{"login of 257 bytes", strings.Repeat("n", 251) + "@acme", "right-pw"},
		{"password with NUL", "alice@acme", "right-pw\x00"},
		{"password not UTF-8", "alice@acme", "right-\xff-pw"},
		{"password of 40 KiB", "alice@acme", strings.Repeat("p", 40<<10)},
		{"both hostile", "\xff\x00@\xfe", "\x00\xff" + strings.Repeat("\xc3", 20000)},
	} {
		auWantUnauthorized(e, auProbe(e, c.login, c.password), c.what)
	}
	auWantIn(e, auProbe(e, "alice@acme", "right-pw"), "the right password afterwards")
	var longest int
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT coalesce(max(length(key)), 0) FROM auth_failures").Scan(&longest); err != nil {
		t.Fatal(err)
	}
	if longest > 80 {
		t.Errorf("a throttle key of %d characters was stored", longest)
	}
}
