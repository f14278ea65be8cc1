package httpapi_test

import (
	"fmt"
	"testing"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Failures of a login from one client address never hold that login back for another
// address: nobody can shut a user out by guessing at their login.
func TestLoginThrottleIsPerClientAddress(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	e.AddUser("carol@acme", "the-right-password")
	const attacker, carol = "203.0.113.66", "198.51.100.20"
	for i := range 10 {
		auWantUnauthorized(e, auProbe(e, "carol@acme", "guess", "X-Forwarded-For", attacker), fmt.Sprintf("guess %d", i+1))
	}
	auWantThrottled(e, auProbe(e, "carol@acme", "the-right-password", "X-Forwarded-For", attacker), 1, "the guessing address, right password")
	auWantIn(e, auProbe(e, "carol@acme", "the-right-password", "X-Forwarded-For", carol), "carol from her own address")
	auWantIn(e, auProbe(e, "carol@acme", "the-right-password", "X-Forwarded-For", "192.0.2.1"), "carol from a third address")
	// Guesses spread over many addresses lock none of them out, and not the login.
	for i := range 30 {
		addr := fmt.Sprintf("198.18.0.%d", i+1)
		auWantUnauthorized(e, auProbe(e, "carol@acme", "guess", "X-Forwarded-For", addr), "a guess from "+addr)
	}
	auWantIn(e, auProbe(e, "carol@acme", "the-right-password", "X-Forwarded-For", carol), "carol after guesses from 30 addresses")
}
