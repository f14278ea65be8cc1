package auth

import (
	"context"
	"time"
)

// Check returns how long login must wait before it may be tried from addr (0 when it may
// now), and whether the login has failures from addr that a success must reset.
func (l *SharedLimiter) Check(ctx context.Context, login, addr string) (time.Duration, bool, error) {
	wait, failed, _, err := l.check(ctx, login, addr, "", "", nil)
	return wait, failed, err
}
