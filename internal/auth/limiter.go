package auth

import (
	"context"
	"time"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
)

// Limiter keeps the failed-login state that throttling decides on.
type Limiter interface {
	// Check returns how long login must wait before it may be tried from addr (0 when it may
	// now), and whether the login has failures that a success must reset.
	Check(ctx context.Context, login, addr string) (wait time.Duration, failed bool, err error)
	// Fail records a failed attempt.
	Fail(ctx context.Context, login, addr string) error
	// Succeed resets the login's failures.
	Succeed(ctx context.Context, login string) error
}

// Limiter returns the throttle as a Limiter of one process.
func (t *Throttle) Limiter() Limiter { return memoryLimiter{t} }

type memoryLimiter struct{ t *Throttle }

func (m memoryLimiter) Check(_ context.Context, login, addr string) (time.Duration, bool, error) {
	return m.t.Check(login, addr), true, nil
}

func (m memoryLimiter) Fail(_ context.Context, login, addr string) error {
	m.t.Fail(login, addr)
	return nil
}

func (m memoryLimiter) Succeed(_ context.Context, login string) error {
	m.t.Succeed(login)
	return nil
}

// SharedLimiter keeps the failure counters in PostgreSQL, so that every instance of the service
// throttles alike: spreading guesses over instances gains nothing. It applies the thresholds of
// a Throttle (SPEC §2). A success costs nothing extra unless the login had failures.
type SharedLimiter struct {
	st *store.Store
	t  *Throttle
}

// NewSharedLimiter returns a limiter on st with the thresholds of NewThrottle.
func NewSharedLimiter(st *store.Store) *SharedLimiter {
	return &SharedLimiter{st: st, t: NewThrottle()}
}

func loginKey(login string) string { return "login:" + login }

func addrKey(addr string) string { return "addr:" + addr }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Check implements Limiter.
func (l *SharedLimiter) Check(ctx context.Context, login, addr string) (time.Duration, bool, error) {
	ctx, cancel := l.st.Ctx(ctx)
	defer cancel()
	r, err := l.st.Q.AuthThrottleCheck(ctx, l.st.Pool, dbsqlc.AuthThrottleCheckParams{LoginKey: loginKey(login), AddrKey: addrKey(addr)})
	if err != nil {
		return 0, false, err
	}
	return time.Duration(r.WaitSeconds * float64(time.Second)), r.LoginFailed, nil
}

// Fail implements Limiter.
func (l *SharedLimiter) Fail(ctx context.Context, login, addr string) error {
	ctx, cancel := l.st.Ctx(ctx)
	defer cancel()
	err := l.st.Q.AuthThrottleFailLogin(ctx, l.st.Pool, dbsqlc.AuthThrottleFailLoginParams{
		LoginKey: loginKey(login), Threshold: int32(l.t.LoginThreshold), BaseMs: ms(l.t.LoginBackoff), MaxMs: ms(l.t.MaxBackoff),
	})
	if err != nil {
		return err
	}
	return l.st.Q.AuthThrottleFailAddr(ctx, l.st.Pool, dbsqlc.AuthThrottleFailAddrParams{
		AddrKey: addrKey(addr), WindowMs: ms(l.t.AddrWindow), Threshold: int32(l.t.AddrThreshold),
	})
}

// Succeed implements Limiter.
func (l *SharedLimiter) Succeed(ctx context.Context, login string) error {
	ctx, cancel := l.st.Ctx(ctx)
	defer cancel()
	return l.st.Q.AuthThrottleReset(ctx, l.st.Pool, loginKey(login))
}

// DeleteStale removes counters that hold nothing back any more; the purge calls it.
func (l *SharedLimiter) DeleteStale(ctx context.Context) (int64, error) {
	return l.st.Q.AuthThrottleDeleteStale(ctx, l.st.Pool, ms(l.t.MaxBackoff+l.t.AddrWindow))
}
