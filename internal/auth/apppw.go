package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/store"
)

// Application passwords: one per integration of a user, each revocable alone. They work as
// the user's Basic Auth password. They carry 192 random bits, so a SHA-256 of them is as good
// as a slow hash: a login with one costs one indexed lookup, no argon2.

// appPasswordPrefix marks an application password, so that a request with any other
// password costs no lookup by hash.
const appPasswordPrefix = "fsap_"

// appPasswordBytes is the randomness of an application password.
const appPasswordBytes = 24

// NewAppPassword returns a new application password and the hash the database keeps of it.
func NewAppPassword() (string, []byte, error) {
	b := make([]byte, appPasswordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	pw := appPasswordPrefix + base64.RawURLEncoding.EncodeToString(b)
	return pw, AppPasswordHash(pw), nil
}

// AppPasswordHash is the hash of password when it has the shape of an application password,
// else nil.
func AppPasswordHash(password string) []byte {
	rest, ok := strings.CutPrefix(password, appPasswordPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(appPasswordBytes) {
		return nil
	}
	h := sha256.Sum256([]byte(password))
	return h[:]
}

// touchEvery is how coarsely the last use of an application password is recorded: a busy
// integration writes once a minute, not once a request.
const touchEvery = time.Minute

const (
	// touchQueue bounds the touches waiting to be written: past it a touch is dropped, and the
	// password's next login tries again.
	touchQueue = 1024
	// touchTimeout bounds the write of one touch.
	touchTimeout = 5 * time.Second
	// touchDrain bounds how long a stop spends on the touches still queued.
	touchDrain = 5 * time.Second
)

// appUses records the last use of application passwords, at most once per touchEvery per
// password and instance. A request only queues the touch; the Authenticator's background
// worker writes it, so that no request waits for it and a burst of logins costs no goroutine.
type appUses struct {
	st      *store.Store
	queue   chan int64
	touched *testsignal.Signal[int64]

	mu sync.Mutex
	// written is when this instance last queued each password's use.
	written map[int64]time.Time
}

func newAppUses(st *store.Store, touched *testsignal.Signal[int64]) *appUses {
	return &appUses{st: st, queue: make(chan int64, touchQueue), touched: touched, written: map[int64]time.Time{}}
}

// used notes a login with password id, whose recorded last use is last.
func (u *appUses) used(id int64, last *time.Time) {
	now := time.Now()
	if last != nil && now.Sub(*last) < touchEvery {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if w, ok := u.written[id]; ok && now.Sub(w) < touchEvery {
		return
	}
	select {
	case u.queue <- id:
	default:
		return // full: dropped, and not noted as written, so the next login queues it again
	}
	u.written[id] = now
	if len(u.written) > 100_000 {
		clear(u.written) // bounded: forgetting costs at most one more write each
		u.written[id] = now
	}
}

// work writes the queued touches until ctx ends, then those still queued, within touchDrain.
func (u *appUses) work(ctx context.Context) {
	for {
		select {
		case id := <-u.queue:
			u.touch(ctx, id)
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchDrain)
			defer cancel()
			for {
				select {
				case id := <-u.queue:
					u.touch(drain, id)
				default:
					return
				}
			}
		}
	}
}

func (u *appUses) touch(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchTimeout)
	defer cancel()
	if err := u.st.Auth().TouchAppPassword(ctx, id); err == nil {
		u.touched.Signal(id)
	}
}
