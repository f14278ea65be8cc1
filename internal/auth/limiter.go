package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// check returns how long login must wait before it may be tried from addr (0 when it may
// now), and whether the login has failures from addr that a success must reset; in the same
// query it looks up the user name@tenant (with the application password whose hash is
// appHash, when any).
func (l *SharedLimiter) check(ctx context.Context, login, addr, tenant, name string, appHash []byte) (time.Duration, bool, userLookup, error) {
	r, err := l.st.Q.AuthLookup(ctx, dbsqlc.AuthLookupParams{
		LoginKey: loginKey(login, addr), AddrKey: addrKey(addr), AppHash: appHash, Tenant: tenant, Name: name,
	})
	if err != nil {
		return 0, false, userLookup{}, err
	}
	u := userLookup{found: r.Found, row: dbsqlc.UserGetForAuthRow{
		ID: r.UserID, TenantID: r.TenantID, PasswordHash: r.PasswordHash, Disabled: r.Disabled,
		AppPasswordID: r.AppPasswordID, AppPasswordUsedAt: r.AppPasswordUsedAt,
		MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes,
	}}
	return time.Duration(r.WaitSeconds * float64(time.Second)), r.LoginFailed, u, nil
}

// Fail records a failed attempt of login from addr: the login's counter for this address and the address's counter
// are raised in one transaction.
func (l *SharedLimiter) Fail(ctx context.Context, login, addr string) error {
	return l.st.InTx(ctx, func(q *dbsqlc.Queries) error {
		err := q.AuthThrottleFailLogin(ctx, dbsqlc.AuthThrottleFailLoginParams{
			LoginKey: loginKey(login, addr), Threshold: int32(l.t.LoginThreshold), BaseMs: ms(l.t.LoginBackoff), MaxMs: ms(l.t.MaxBackoff),
		})
		if err != nil {
			return err
		}
		return q.AuthThrottleFailAddr(ctx, dbsqlc.AuthThrottleFailAddrParams{
			AddrKey: addrKey(addr), WindowMs: ms(l.t.AddrWindow), Threshold: int32(l.t.AddrThreshold),
		})
	})
}

// Succeed resets the failures of login from addr.
func (l *SharedLimiter) Succeed(ctx context.Context, login, addr string) error {
	return l.st.Q.AuthThrottleReset(ctx, loginKey(login, addr))
}
