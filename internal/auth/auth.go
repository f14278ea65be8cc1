package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/store"
)

var (
	// ErrUnauthorized means the credentials are missing, wrong, or belong to a disabled user.
	ErrUnauthorized = errors.New("unauthorized")
)

// ThrottledError means too many failures: the client must wait RetryAfter.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins, retry after %s", e.RetryAfter)
}

// Principal is an authenticated user.
type Principal struct {
	UserID   int64
	TenantID int64
	// Login is name@tenant.
	Login string
	// Quota is the tenant's, as read with the credentials.
	Quota Quota
	// AppPasswordID is the application password the user authenticated with; nil for the
	// password. A console session signed in with one ends when it is revoked.
	AppPasswordID *int64
}

// Quota is a tenant's limits; 0 means unlimited.
type Quota struct {
	MaxBytes     int64
	MaxFileBytes int64
}

// Authenticator checks Basic credentials. It is also a background worker, which records the
// last use of application passwords (Start); until it runs, their uses wait in a bounded queue.
type Authenticator struct {
	lifecycle.Runner
	// TestSignals are the points of the background work that tests wait for (off unless Init).
	TestSignals TestSignals

	st      *store.Store
	limiter *SharedLimiter
	// hashSlots bounds concurrent argon2 work, so a flood of bad passwords cannot take all CPU
	// and memory.
	hashSlots chan struct{}
	dummy     string
	// hashing and peakHashing count password hashes in progress, so that the bound can be
	// observed (HashConcurrency).
	hashing     atomic.Int64
	peakHashing atomic.Int64

	cacheKey [32]byte
	mu       sync.Mutex
	cache    map[string]cachedCred

	apps *appUses
}

// TestSignals are the points of the authenticator's background work that a test can wait for.
type TestSignals struct {
	// AppPasswordTouched is signalled once the last use of an application password is
	// written, with the password's id.
	AppPasswordTouched testsignal.Signal[int64]
}

// Init turns the signals on; call it before Start.
func (s *TestSignals) Init() { s.AppPasswordTouched.Init() }

// cachedCred remembers that password (as a keyed MAC, never the password itself) matched the
// stored hash. It is valid only while the stored hash is unchanged, so passwd takes effect at
// once; the disabled flag is read from the database on every request.
type cachedCred struct {
	storedHash string
	mac        [32]byte
}

const maxCached = 10_000

// New returns an Authenticator over st that throttles failures with limiter.
func New(st *store.Store, limiter *SharedLimiter) (*Authenticator, error) {
	dummy, err := HashPassword("dummy password for unknown logins", DefaultParams)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		Runner:    lifecycle.Runner{Name: "app password touches"},
		st:        st,
		limiter:   limiter,
		hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		dummy:     dummy,
		cache:     map[string]cachedCred{},
	}
	a.apps = newAppUses(st, &a.TestSignals.AppPasswordTouched)
	if _, err := rand.Read(a.cacheKey[:]); err != nil {
		return nil, err
	}
	return a, nil
}

// Start writes the last uses of application passwords, in the background, until Stop or the
// end of ctx; Stop writes those still queued (within a bound) before it returns.
func (a *Authenticator) Start(ctx context.Context) error {
	return a.Runner.Start(ctx, func(ctx context.Context, g *lifecycle.Group) error {
		g.Go(a.apps.work)
		return nil
	})
}

// Authenticate checks login and password for a request from clientAddr.
func (a *Authenticator) Authenticate(ctx context.Context, login, password, clientAddr string) (Principal, error) {
	// Failures count per user, not per spelling: "bob" and "bob@default" are one login. A login
	// that names no user is counted as sent (the limiter hashes it).
	key := login
	name, tenant, perr := ParseLogin(login)
	if perr == nil {
		key = name + "@" + tenant
	}
	// The throttle state and the user the login names, in one query (a login that does not
	// parse names nobody).
	wait, failed, user, err := a.limiter.check(ctx, key, clientAddr, tenant, name, AppPasswordHash(password))
	if err != nil {
		return Principal{}, err
	}
	if wait > 0 {
		return Principal{}, &ThrottledError{RetryAfter: wait}
	}
	var p Principal
	if perr != nil {
		err = ErrUnauthorized
	} else {
		p, err = a.verify(ctx, name, tenant, password, user)
	}
	switch {
	case err == nil:
		if failed {
			if err := a.limiter.Succeed(ctx, key, clientAddr); err != nil {
				return Principal{}, err
			}
		}
		return p, nil
	case errors.Is(err, ErrUnauthorized):
		if ferr := a.limiter.Fail(ctx, key, clientAddr); ferr != nil {
			return Principal{}, ferr
		}
	}
	return Principal{}, err
}

// userLookup is the user a login names (found false: there is none).
type userLookup struct {
	row   store.UserAuth
	found bool
}

// verify checks password for the user name@tenant, as looked up.
func (a *Authenticator) verify(ctx context.Context, name, tenant, password string, user userLookup) (Principal, error) {
	if !user.found {
		// Same cost as a wrong password, so response times do not tell which logins exist.
		if _, err := a.slowVerify(ctx, a.dummy, password); err != nil {
			return Principal{}, err
		}
		return Principal{}, ErrUnauthorized
	}
	u := user.row
	canonical := name + "@" + tenant
	p := Principal{UserID: u.ID, TenantID: u.TenantID, Login: canonical, Quota: Quota{MaxBytes: u.MaxBytes, MaxFileBytes: u.MaxFileBytes}}
	if u.AppPasswordID != nil {
		// An application password: found by its hash, no slow hash needed. It was read with
		// the user, so a revocation or a disabled user counts on the very next request.
		if u.Disabled {
			return Principal{}, ErrUnauthorized
		}
		a.apps.used(*u.AppPasswordID, u.AppPasswordUsedAt)
		p.AppPasswordID = u.AppPasswordID
		return p, nil
	}
	mac := a.mac(password)
	a.mu.Lock()
	c, ok := a.cache[canonical]
	a.mu.Unlock()
	if !ok || c.storedHash != u.PasswordHash || !hmac.Equal(c.mac[:], mac[:]) {
		match, err := a.slowVerify(ctx, u.PasswordHash, password)
		if err != nil {
			return Principal{}, err
		}
		if !match {
			return Principal{}, ErrUnauthorized
		}
		a.remember(canonical, cachedCred{storedHash: u.PasswordHash, mac: mac})
	}
	if u.Disabled {
		return Principal{}, ErrUnauthorized
	}
	return p, nil
}

func (a *Authenticator) slowVerify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.hashSlots }()
	n := a.hashing.Add(1)
	defer a.hashing.Add(-1)
	for peak := a.peakHashing.Load(); n > peak; peak = a.peakHashing.Load() {
		if a.peakHashing.CompareAndSwap(peak, n) {
			break
		}
	}
	ok, err := VerifyPassword(hash, password)
	if errors.Is(err, errBadHash) {
		return false, nil
	}
	return ok, err
}

// HashConcurrency reports how many password hashes are being computed now, the most that ever
// were at once, and the bound on them: a flood of bad passwords costs at most limit hashes'
// worth of CPU and memory at a time.
func (a *Authenticator) HashConcurrency() (now, peak int64, limit int) {
	return a.hashing.Load(), a.peakHashing.Load(), cap(a.hashSlots)
}

func (a *Authenticator) mac(password string) [32]byte {
	m := hmac.New(sha256.New, a.cacheKey[:])
	m.Write([]byte(password))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (a *Authenticator) remember(login string, c cachedCred) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCached {
		for k := range a.cache { // evict an arbitrary entry
			delete(a.cache, k)
			break
		}
	}
	a.cache[login] = c
}
