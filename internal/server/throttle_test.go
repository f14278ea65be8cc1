package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"fileshare/internal/server"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// The login throttle is shared through the database: failures on one instance hold the login
// back on every other, so spreading guesses over instances gains nothing.
func TestLoginThrottleIsSharedByInstances(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "right")
	st, err := store.Open(context.Background(), e.DBURL, store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	other, err := server.New(e.Config, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(other.Handler)
	t.Cleanup(srv.Close)

	get := func(base, password string) *testutil.Response {
		return e.Do(e.NewRequest(http.MethodGet, base+"/sessions", "alice@acme", password, nil))
	}
	// Nine failures on this instance, one on the other: the tenth trips the throttle.
	for i := range 9 {
		if r := get(e.URL, "wrong"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.StatusCode)
		}
	}
	if r := get(srv.URL, "wrong"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tenth failure, on the other instance: %d", r.StatusCode)
	}
	for _, base := range []string{e.URL, srv.URL} {
		r := get(base, "right")
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s after ten failures over two instances: %d, Retry-After %q", base, r.StatusCode, r.Header.Get("Retry-After"))
		}
	}
	// The counters expire with their back-off and then a success on either instance resets them.
	if _, err := e.Store.Pool.Exec(context.Background(), "UPDATE auth_failures SET locked_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	if r := get(srv.URL, "right"); r.StatusCode != http.StatusOK {
		t.Fatalf("right password once the back-off ran out: %d", r.StatusCode)
	}
	var n int
	e.Store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM auth_failures WHERE key = 'login:alice@acme'").Scan(&n)
	if n != 0 {
		t.Fatalf("a success left the login's failure counter (%d rows)", n)
	}
}
