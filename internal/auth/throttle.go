package auth

import "time"

// Thresholds are the throttling rules, kept in PostgreSQL by SharedLimiter so that every
// instance applies them alike:
//
//   - a login from one client address is held back after LoginThreshold consecutive failures
//     of that login from that address, for LoginBackoff, doubling with every further failure
//     up to MaxBackoff, until a success from that address resets it. Failures from one address
//     never hold the login back for another, so nobody can lock a user out by guessing at
//     their login;
//   - a client address is held back after AddrThreshold failures (of any logins) within
//     AddrWindow, until the window ends: high enough that an office behind one NAT address
//     does not lock itself out.
type Thresholds struct {
	LoginThreshold int
	LoginBackoff   time.Duration
	MaxBackoff     time.Duration
	AddrThreshold  int
	AddrWindow     time.Duration
}

// DefaultThresholds are the production rules: 10 consecutive failures per login and address,
// a back-off from 1 s doubling to 15 min; 100 failures a minute per address.
var DefaultThresholds = Thresholds{
	LoginThreshold: 10,
	LoginBackoff:   time.Second,
	MaxBackoff:     15 * time.Minute,
	AddrThreshold:  100,
	AddrWindow:     time.Minute,
}

// StaleAfter is the age past which a failure counter that holds nothing back is removed by
// the purge: longer than any back-off and any address window.
func (t Thresholds) StaleAfter() time.Duration { return t.MaxBackoff + t.AddrWindow }
