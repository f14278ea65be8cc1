package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
)

// tokenBytes is the randomness of a token: 256 bits, twice the 128 that docs/behaviour.md §4.6 asks for.
const tokenBytes = 32

// tokenLen is the length of a token as text (unpadded base64url).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

func newToken() (string, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok), nil
}

// hashToken returns the SHA-256 kept in the database for a token, or nil for a string that
// is not a well-formed token.
func hashToken(tok string) []byte {
	if !ValidToken(tok) {
		return nil
	}
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// ValidToken reports whether tok has the form of a token this server makes.
func ValidToken(tok string) bool {
	if len(tok) != tokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	return err == nil && len(b) == tokenBytes
}

// UploadURL is a token that lets its holder put a pending file entry's content once.
type UploadURL struct {
	SessionID uuid.UUID
	FileID    uuid.UUID
	Token     string
	ExpiresAt time.Time
}

// CreateUploadURL creates an upload token for a pending file entry of p's tenant.
// ttlSeconds 0 means the configured default; the expiry is capped at the session's.
func (s *Service) CreateUploadURL(ctx context.Context, p auth.Principal, fid uuid.UUID, ttlSeconds int64) (UploadURL, error) {
	if ttlSeconds == 0 {
		ttlSeconds = int64(s.limits.UploadURLTTL / time.Second)
	}
	tenant := s.st.Tenant(p.TenantID)
	f, err := tenant.Files().Get(ctx, fid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return UploadURL{}, ErrFileNotFound
	case err != nil:
		return UploadURL{}, err
	case f.SessionExpired:
		return UploadURL{}, s.sessionExpired(f.SessionExpiresAt, ErrFileNotFound)
	case f.State != StatePending:
		return UploadURL{}, ErrAlreadyUploaded
	}
	tok, hash, err := newToken()
	if err != nil {
		return UploadURL{}, err
	}
	row, err := tenant.UploadURLs().Create(ctx, hash, fid, p.Login, ttlSeconds)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrReferenceMissing) {
		// Stored, deleted or its session expired between the two statements: say which.
		f, err := tenant.Files().Get(ctx, fid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return UploadURL{}, ErrFileNotFound
		case err != nil:
			return UploadURL{}, err
		case f.SessionExpired:
			return UploadURL{}, s.sessionExpired(f.SessionExpiresAt, ErrFileNotFound)
		}
		return UploadURL{}, ErrAlreadyUploaded
	}
	if err != nil {
		return UploadURL{}, err
	}
	return UploadURL{SessionID: row.SessionID, FileID: fid, Token: tok, ExpiresAt: row.ExpiresAt}, nil
}

// Token is a one-time download token, as shown once to its creator.
type Token struct {
	Token     string
	Ref       uuid.UUID
	FileID    uuid.UUID
	SessionID uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
	// PIN is the token's PIN, when it was made with one: shown only here.
	PIN string
	// Label is the creator's note of whom the link is for; empty for none.
	Label string
}

// pinDigits is the length of a PIN; maxPINFailures wrong PINs lock a token for good.
const (
	pinDigits      = 6
	maxPINFailures = 5
)

// newPIN returns pinDigits random decimal digits.
func newPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", pinDigits, n.Int64()), nil
}

// hashPIN is what the database keeps of a token's PIN. It is bound to the token, which the
// database does not hold either, so a reader of the database cannot try the million PINs.
func hashPIN(tok, pin string) []byte {
	h := sha256.Sum256([]byte(tok + "\x00" + pin))
	return h[:]
}

// CreateToken generates a one-time download token for a file entry of p's tenant, with a
// PIN when withPIN. ttlSeconds 0 means until the session expires; any ttl is capped at the
// session's expiry.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, sid, fid uuid.UUID, ttlSeconds int64, withPIN bool) (Token, error) {
	return s.CreateTokenWith(ctx, p, sid, fid, TokenOptions{TTLSeconds: ttlSeconds, PIN: withPIN})
}

// TokenOptions are what the creator of a token may choose.
type TokenOptions struct {
	// TTLSeconds 0 means until the session expires; any ttl is capped at the session's expiry.
	TTLSeconds int64
	PIN        bool
	// Label is the creator's note of whom the link is for ("for Bob"), at most 100
	// characters; empty for none.
	Label string
}

// CreateTokenWith is CreateToken with every option.
func (s *Service) CreateTokenWith(ctx context.Context, p auth.Principal, sid, fid uuid.UUID, o TokenOptions) (Token, error) {
	label, err := CheckLabel(o.Label)
	if err != nil {
		return Token{}, err
	}
	ttlSeconds, withPIN := o.TTLSeconds, o.PIN
	if _, err := s.getFile(ctx, p.TenantID, sid, fid); err != nil {
		return Token{}, err
	}
	tok, hash, err := newToken()
	if err != nil {
		return Token{}, err
	}
	var pin string
	var pinHash []byte
	if withPIN {
		if pin, err = newPIN(); err != nil {
			return Token{}, err
		}
		pinHash = hashPIN(tok, pin)
	}
	var ttl *int64
	if ttlSeconds > 0 {
		ttl = &ttlSeconds
	}
	row, err := s.st.Tenant(p.TenantID).Tokens().Create(ctx, store.NewToken{
		Hash: hash, Ref: uuid.New(), PINHash: pinHash, Label: label, CreatedBy: p.Login, TTLSeconds: ttl,
		FileID: fid, SessionID: sid,
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrReferenceMissing) {
		// Deleted, or its session expired, between the two statements: say which.
		if _, err := s.getFile(ctx, p.TenantID, sid, fid); err != nil {
			return Token{}, err
		}
		return Token{}, ErrFileNotFound
	}
	if err != nil {
		return Token{}, err
	}
	return Token{Token: tok, Ref: row.Ref, FileID: fid, SessionID: sid, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, PIN: pin, Label: deref(label)}, nil
}
