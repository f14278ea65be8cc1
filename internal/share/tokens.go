package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
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
	f, err := s.st.Q.FileGet(ctx, dbsqlc.FileGetParams{ID: fid, TenantID: p.TenantID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return UploadURL{}, ErrFileNotFound
	case err != nil:
		return UploadURL{}, err
	case f.SessionExpired:
		return UploadURL{}, ErrSessionExpired
	case f.State != StatePending:
		return UploadURL{}, ErrAlreadyUploaded
	}
	tok, hash, err := newToken()
	if err != nil {
		return UploadURL{}, err
	}
	row, err := s.st.Q.UploadTokenCreate(ctx, dbsqlc.UploadTokenCreateParams{
		TokenHash: hash, CreatedBy: p.Login, TtlSeconds: ttlSeconds, FileID: fid, TenantID: p.TenantID,
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrReferenceMissing) {
		// Stored, deleted or expired between the two statements.
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
	FileID    uuid.UUID
	SessionID uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateToken generates a one-time download token for a file entry of p's tenant. ttlSeconds
// 0 means until the session expires; any ttl is capped at the session's expiry.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, sid, fid uuid.UUID, ttlSeconds int64) (Token, error) {
	if _, err := s.getFile(ctx, p.TenantID, sid, fid); err != nil {
		return Token{}, err
	}
	tok, hash, err := newToken()
	if err != nil {
		return Token{}, err
	}
	var ttl *int64
	if ttlSeconds > 0 {
		ttl = &ttlSeconds
	}
	row, err := s.st.Q.DownloadTokenCreate(ctx, dbsqlc.DownloadTokenCreateParams{
		TokenHash: hash, CreatedBy: p.Login, TtlSeconds: ttl, FileID: fid, SessionID: sid, TenantID: p.TenantID,
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrReferenceMissing) {
		return Token{}, ErrFileNotFound
	}
	if err != nil {
		return Token{}, err
	}
	return Token{Token: tok, FileID: fid, SessionID: sid, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}, nil
}

// ConsumeToken takes a one-time token and returns its file's content. Exactly one of any
// number of concurrent calls for one token succeeds; the rest get ErrTokenUsed.
func (s *Service) ConsumeToken(ctx context.Context, sid, fid uuid.UUID, tok string, addr netip.Addr) (*Download, error) {
	hash := hashToken(tok)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	row, err := s.st.Q.DownloadTokenConsume(ctx, dbsqlc.DownloadTokenConsumeParams{
		TokenHash: hash, FileID: fid, SessionID: sid, Addr: addrOrNil(addr),
	})
	if errors.Is(err, store.ErrNotFound) {
		_, err := s.inspectToken(ctx, sid, fid, hash)
		if err == nil {
			err = ErrTokenUsed // taken by a concurrent request after our update looked
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	meta := FileMeta{Name: row.Name, ContentType: row.ContentType, SHA256: row.Sha256}
	if row.Size != nil {
		meta.Size = *row.Size
	}
	if row.StoredAt != nil {
		meta.ModTime = *row.StoredAt
	}
	return s.download(meta, row.BlobKey, ErrFileNotFound), nil
}

// PeekToken answers a HEAD of a token: the file it would download, without consuming it.
func (s *Service) PeekToken(ctx context.Context, sid, fid uuid.UUID, tok string) (*Download, error) {
	hash := hashToken(tok)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	row, err := s.inspectToken(ctx, sid, fid, hash)
	if err != nil {
		return nil, err
	}
	meta := FileMeta{Name: row.Name, ContentType: row.ContentType, Size: *row.Size, SHA256: row.Sha256, ModTime: *row.StoredAt}
	return s.download(meta, *row.BlobKey, ErrFileNotFound), nil
}

// inspectToken returns a token's row when it could be consumed now, else the error that says
// why not.
func (s *Service) inspectToken(ctx context.Context, sid, fid uuid.UUID, hash []byte) (dbsqlc.DownloadTokenInspectRow, error) {
	row, err := s.st.Q.DownloadTokenInspect(ctx, dbsqlc.DownloadTokenInspectParams{TokenHash: hash, FileID: fid, SessionID: sid})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return row, s.sessionGone(ctx, sid, nil, ErrTokenNotFound)
	case err != nil:
		return row, err
	case row.SessionExpired && s.pastRetention(row.SessionExpiresAt):
		return row, ErrTokenNotFound
	case row.SessionExpired:
		return row, ErrSessionExpired
	case row.Consumed:
		return row, ErrTokenUsed
	case row.Expired:
		return row, ErrTokenExpired
	case row.State != StateStored:
		return row, ErrNotUploadedYet
	}
	return row, nil
}
