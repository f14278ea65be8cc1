package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"fileshare/internal/store"
)

// SharedLimiter keeps the failure counters in PostgreSQL, so that every instance of the service
// throttles alike: spreading guesses over instances gains nothing. It applies Thresholds. A
// success costs nothing extra unless the login had failures from that address.
type SharedLimiter struct {
	st *store.Store
	t  Thresholds
}

// NewSharedLimiter returns a limiter on st with the DefaultThresholds.
func NewSharedLimiter(st *store.Store) *SharedLimiter {
	return &SharedLimiter{st: st, t: DefaultThresholds}
}

// loginKey names the counter of login tried from addr. The login is whatever the client sent,
// so it is hashed: the key is bounded and valid text whatever the bytes.
func loginKey(login, addr string) string {
	h := sha256.Sum256([]byte(login + "\x00" + addr))
	return "login:" + hex.EncodeToString(h[:])
}

// addrKey names the counter of a client address (an IP address as text, so bounded).
func addrKey(addr string) string { return "addr:" + addr }

// check returns how long login must wait before it may be tried from addr (0 when it may
// now), and whether the login has failures from addr that a success must reset; in the same
// query it looks up the user name@tenant (with the application password whose hash is
// appHash, when any).
func (l *SharedLimiter) check(ctx context.Context, login, addr, tenant, name string, appHash []byte) (time.Duration, bool, userLookup, error) {
	r, err := l.st.Auth().Lookup(ctx, store.AuthQuery{
		LoginKey: loginKey(login, addr), AddrKey: addrKey(addr), AppHash: appHash, Tenant: tenant, Name: name,
	})
	if err != nil {
		return 0, false, userLookup{}, err
	}
	return r.Wait, r.LoginFailed, userLookup{found: r.Found, row: r.User}, nil
}

// Fail records a failed attempt of login from addr: the login's counter for this address and the address's counter
// are raised in one transaction.
func (l *SharedLimiter) Fail(ctx context.Context, login, addr string) error {
	return l.st.InTx(ctx, func(tx *store.Tx) error {
		err := tx.Auth().FailLogin(ctx, loginKey(login, addr), store.LoginBackoff{
			Threshold: l.t.LoginThreshold, Base: l.t.LoginBackoff, Max: l.t.MaxBackoff,
		})
		if err != nil {
			return err
		}
		return tx.Auth().FailAddr(ctx, addrKey(addr), store.AddrWindow{Threshold: l.t.AddrThreshold, Window: l.t.AddrWindow})
	})
}

// Succeed resets the failures of login from addr.
func (l *SharedLimiter) Succeed(ctx context.Context, login, addr string) error {
	return l.st.Auth().Reset(ctx, loginKey(login, addr))
}
