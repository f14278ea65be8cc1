package auth

import (
	"sync"
	"time"
)

// Throttle limits repeated authentication failures, per login and per client address. Its
// thresholds follow SPEC §2: a login is held back after 10 consecutive failures, with a back-off
// that doubles while failures go on and is reset by a success; an address only after 100
// failures in a minute, so that an office behind one NAT address does not lock itself out.
type Throttle struct {
	LoginThreshold int
	LoginBackoff   time.Duration // after the threshold-th failure
	MaxBackoff     time.Duration
	AddrThreshold  int
	AddrWindow     time.Duration
	Now            func() time.Time

	mu     sync.Mutex
	logins map[string]*loginState
	addrs  map[string]*addrState
}

type loginState struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
}

type addrState struct {
	windowStart time.Time
	failures    int
}

// maxTracked bounds the memory an attacker can make the throttle use with made-up logins.
const maxTracked = 100_000

// NewThrottle returns a throttle with the thresholds of SPEC §2.
func NewThrottle() *Throttle {
	return &Throttle{
		LoginThreshold: 10,
		LoginBackoff:   time.Second,
		MaxBackoff:     15 * time.Minute,
		AddrThreshold:  100,
		AddrWindow:     time.Minute,
		Now:            time.Now,
		logins:         map[string]*loginState{},
		addrs:          map[string]*addrState{},
	}
}

// Check returns how long the caller must wait before login may be tried from addr, or 0.
func (t *Throttle) Check(login, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	var wait time.Duration
	if s := t.logins[login]; s != nil && now.Before(s.lockedUntil) {
		wait = s.lockedUntil.Sub(now)
	}
	if s := t.addrs[addr]; s != nil && s.failures >= t.AddrThreshold {
		if end := s.windowStart.Add(t.AddrWindow); now.Before(end) && end.Sub(now) > wait {
			wait = end.Sub(now)
		}
	}
	return wait
}

// Fail records a failed attempt.
func (t *Throttle) Fail(login, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	if len(t.logins) >= maxTracked || len(t.addrs) >= maxTracked {
		t.prune(now)
	}
	s := t.logins[login]
	if s == nil {
		s = &loginState{}
		t.logins[login] = s
	}
	s.failures++
	s.last = now
	if over := s.failures - t.LoginThreshold; over >= 0 {
		backoff := t.MaxBackoff
		if over < 30 {
			backoff = min(t.LoginBackoff<<over, t.MaxBackoff)
		}
		s.lockedUntil = now.Add(backoff)
	}
	a := t.addrs[addr]
	if a == nil || now.Sub(a.windowStart) >= t.AddrWindow {
		a = &addrState{windowStart: now}
		t.addrs[addr] = a
	}
	a.failures++
}

// Succeed resets the login's failures.
func (t *Throttle) Succeed(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.logins, login)
}

// prune drops state that no longer holds anything back.
func (t *Throttle) prune(now time.Time) {
	for k, s := range t.logins {
		if now.After(s.lockedUntil) && now.Sub(s.last) > t.MaxBackoff {
			delete(t.logins, k)
		}
	}
	for k, a := range t.addrs {
		if now.Sub(a.windowStart) >= t.AddrWindow {
			delete(t.addrs, k)
		}
	}
	// Still full: an attacker is spraying logins. Forget the oldest half rather than grow.
	if len(t.logins) >= maxTracked {
		n := 0
		for k := range t.logins {
			if n++; n > maxTracked/2 {
				break
			}
			delete(t.logins, k)
		}
	}
}
