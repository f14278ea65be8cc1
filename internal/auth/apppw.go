package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

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

// appUses records the last use of application passwords, at most once per touchEvery per
// password and instance, in the background so that no request waits for it.
type appUses struct {
	st *store.Store
	mu sync.Mutex
	// written is when this instance last wrote each password's use.
	written map[int64]time.Time
}

func newAppUses(st *store.Store) *appUses {
	return &appUses{st: st, written: map[int64]time.Time{}}
}

// used notes a login with password id, whose recorded last use is last.
func (u *appUses) used(ctx context.Context, id int64, last *time.Time) {
	now := time.Now()
	if last != nil && now.Sub(*last) < touchEvery {
		return
	}
	u.mu.Lock()
	if w, ok := u.written[id]; ok && now.Sub(w) < touchEvery {
		u.mu.Unlock()
		return
	}
	u.written[id] = now
	if len(u.written) > 100_000 {
		clear(u.written) // bounded: forgetting costs at most one more write each
		u.written[id] = now
	}
	u.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = u.st.Q.AppPasswordTouch(ctx, id)
	}()
}
