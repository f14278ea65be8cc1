package share

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
	"fileshare/internal/webhook"
)

// The life of a one-time download token (docs/behaviour.md §4.7 and §9): it is consumed by one
// request, once (with its PIN when it has one); the download it started may be resumed with
// Range requests until the file has been delivered once, within the resume window; its owner
// sees its state and may revoke it while it is unused.

// Errors of a token's delivery.
var (
	ErrTokenRevoked = errors.New("download token revoked")
	ErrTokenLocked  = errors.New("download token locked")
	ErrPINRequired  = errors.New("pin required")
	ErrWrongPIN     = errors.New("wrong pin")
	// ErrTokenNotUnused refuses to revoke a token that is no longer unused.
	ErrTokenNotUnused = errors.New("download token already used")
	// ErrTokenLockedNow is the fifth wrong PIN: a wrong PIN like the others (403), after which
	// the token is locked for good (410 ErrTokenLocked).
	ErrTokenLockedNow = fmt.Errorf("%w, the fifth: the token is now locked", ErrWrongPIN)
)

// TokenLink names a token as its URL does.
type TokenLink struct {
	SessionID, FileID uuid.UUID
	Token             string
}

// TokenDownload is the file of a token being sent to its recipient.
type TokenDownload struct {
	*Download
	s    *Service
	hash []byte
}

// Sent records that n bytes of the file went out to the recipient, and whether the last byte
// of the file was among them: the token is then delivered, and can no longer be resumed. It
// is recorded even when the request's context is done (the client went away).
func (d *TokenDownload) Sent(ctx context.Context, n int64, lastByte bool) error {
	if n == 0 && !lastByte {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	sent := dbsqlc.DownloadTokenRecordSentParams{TokenHash: d.hash, Bytes: n}
	if !lastByte {
		return d.s.st.Q.DownloadTokenRecordSent(ctx, sent)
	}
	// The last byte: the token is delivered, and only the first download to get there says so
	// (token.delivered), in the same transaction.
	return d.s.change(ctx, func(q *dbsqlc.Queries, ev *events) error {
		if err := q.DownloadTokenRecordSent(ctx, sent); err != nil {
			return err
		}
		row, err := q.DownloadTokenMarkDelivered(ctx, d.hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil // delivered before
		}
		if err != nil {
			return err
		}
		ev.add(webhook.TokenDelivered, row.TenantID, webhook.TokenData{
			SessionID: row.SessionID, FileID: row.FileID, Ref: row.Ref,
			File:            webhook.NewFile(row.Name, row.ContentType, row.Size, row.Sha256),
			ConsumerAddress: webhook.Address(row.ConsumedByAddr), BytesSent: &row.BytesSent,
		})
		return nil
	})
}

// Unconsume gives the token back when its consuming answer sent nothing (its file could not
// be opened): a token is spent on a download, not on an error.
func (d *TokenDownload) Unconsume(ctx context.Context) error {
	return d.s.st.Q.DownloadTokenUnconsume(context.WithoutCancel(ctx), d.hash)
}

// ConsumeToken takes a one-time token and returns its file. Exactly one of any number of
// concurrent calls for one token succeeds; the rest get ErrTokenUsed. A token with a PIN
// needs it (pin nil: none was given): a missing or wrong PIN leaves the token unused, and the
// fifth wrong one locks it for good.
func (s *Service) ConsumeToken(ctx context.Context, link TokenLink, pin *string, addr netip.Addr) (*TokenDownload, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	var pinHash []byte
	if pin != nil {
		pinHash = hashPIN(link.Token, *pin)
	}
	var row dbsqlc.DownloadTokenConsumeRow
	err := s.change(ctx, func(q *dbsqlc.Queries, ev *events) error {
		var err error
		row, err = q.DownloadTokenConsume(ctx, dbsqlc.DownloadTokenConsumeParams{
			TokenHash: hash, FileID: link.FileID, SessionID: link.SessionID, Addr: addrOrNil(addr), PinHash: pinHash,
		})
		if err == nil {
			ev.add(webhook.TokenConsumed, row.TenantID, webhook.TokenData{
				SessionID: link.SessionID, FileID: link.FileID, Ref: row.Ref,
				File:            webhook.NewFile(row.Name, row.ContentType, row.Size, row.Sha256),
				ConsumerAddress: webhook.Address(addrOrNil(addr)),
			})
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.whyNotConsumed(ctx, link, hash, pin != nil)
	}
	if err != nil {
		return nil, err
	}
	return s.tokenDownload(hash, row.Name, row.ContentType, row.Size, row.Sha256, row.StoredAt, row.BlobKey), nil
}

// whyNotConsumed explains a consumption that matched no token, counting a wrong PIN.
func (s *Service) whyNotConsumed(ctx context.Context, link TokenLink, hash []byte, pinGiven bool) error {
	ins, err := s.inspectToken(ctx, link, hash)
	if err != nil {
		return err
	}
	if !ins.HasPin {
		return ErrTokenUsed // taken by a concurrent request after the update looked
	}
	if !pinGiven {
		return ErrPINRequired
	}
	locked, err := s.st.Q.DownloadTokenPinFailure(ctx, dbsqlc.DownloadTokenPinFailureParams{
		TokenHash: hash, MaxFailures: maxPINFailures,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Consumed, locked or revoked meanwhile.
		if _, err := s.inspectToken(ctx, link, hash); err != nil {
			return err
		}
		return ErrTokenUsed
	case err != nil:
		return err
	case locked:
		return ErrTokenLockedNow
	}
	return ErrWrongPIN
}

// ResumeToken returns the file of a consumed token for the rest of its cut download: until the
// file has been delivered once, within the resume window after the consumption. Otherwise
// the token is ErrTokenUsed, as for any other use of a consumed token.
func (s *Service) ResumeToken(ctx context.Context, link TokenLink) (*TokenDownload, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	row, err := s.st.Q.DownloadTokenResume(ctx, dbsqlc.DownloadTokenResumeParams{
		TokenHash: hash, FileID: link.FileID, SessionID: link.SessionID,
		WindowSeconds: int64(s.limits.TokenResumeWindow / time.Second),
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenUsed
	}
	if err != nil {
		return nil, err
	}
	return s.tokenDownload(hash, row.Name, row.ContentType, row.Size, row.Sha256, row.StoredAt, row.BlobKey), nil
}

// tokenDownload is the file of the token with hash, as a stored file entry's row gives it.
func (s *Service) tokenDownload(hash []byte, name, contentType string, size *int64, sha256 []byte, storedAt *time.Time, key string) *TokenDownload {
	meta := FileMeta{Name: name, ContentType: contentType, SHA256: sha256}
	if size != nil {
		meta.Size = *size
	}
	if storedAt != nil {
		meta.ModTime = *storedAt
	}
	return &TokenDownload{Download: s.download(meta, key, ErrFileNotFound), s: s, hash: hash}
}

// TokenOffer is what the landing page of an unused token shows.
type TokenOffer struct {
	FileMeta
	ExpiresAt time.Time
	PIN       bool
}

// OfferToken describes an unused token's file without consuming it (the landing page, and a
// HEAD); a token that cannot be consumed now is its error.
func (s *Service) OfferToken(ctx context.Context, link TokenLink) (TokenOffer, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return TokenOffer{}, ErrTokenNotFound
	}
	row, err := s.inspectToken(ctx, link, hash)
	if err != nil {
		return TokenOffer{}, err
	}
	return TokenOffer{
		FileMeta:  FileMeta{Name: row.Name, ContentType: row.ContentType, Size: *row.Size, SHA256: row.Sha256, ModTime: *row.StoredAt},
		ExpiresAt: row.ExpiresAt,
		PIN:       row.HasPin,
	}, nil
}

// PeekToken answers a HEAD of a token: the file it would download, without consuming it.
func (s *Service) PeekToken(ctx context.Context, link TokenLink) (*Download, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	row, err := s.inspectToken(ctx, link, hash)
	if err != nil {
		return nil, err
	}
	meta := FileMeta{Name: row.Name, ContentType: row.ContentType, Size: *row.Size, SHA256: row.Sha256, ModTime: *row.StoredAt}
	return s.download(meta, *row.BlobKey, ErrFileNotFound), nil
}

// inspectToken returns a token's row when it could be consumed now, else the error that says
// why not.
func (s *Service) inspectToken(ctx context.Context, link TokenLink, hash []byte) (dbsqlc.DownloadTokenInspectRow, error) {
	row, err := s.st.Q.DownloadTokenInspect(ctx, dbsqlc.DownloadTokenInspectParams{TokenHash: hash, FileID: link.FileID, SessionID: link.SessionID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return row, s.sessionGone(ctx, link.SessionID, nil, ErrTokenNotFound)
	case err != nil:
		return row, err
	case row.SessionExpired && s.pastRetention(row.SessionExpiresAt):
		return row, ErrTokenNotFound
	case row.SessionExpired:
		return row, ErrSessionExpired
	case row.Revoked:
		return row, ErrTokenRevoked
	case row.Locked:
		return row, ErrTokenLocked
	case row.Consumed:
		return row, ErrTokenUsed
	case row.Expired:
		return row, ErrTokenExpired
	case row.State != StateStored:
		return row, ErrNotUploadedYet
	}
	return row, nil
}

// Token states, as the owner's list shows them.
const (
	TokenUnused    = "unused"
	TokenConsumed  = "consumed" // its download started
	TokenDelivered = "delivered"
	TokenExpired   = "expired"
	TokenRevoked   = "revoked"
	TokenLocked    = "locked"
)

// TokenStatus is a token as its owner sees it; the token itself is never shown again.
type TokenStatus struct {
	Ref             uuid.UUID
	FileID          uuid.UUID
	SessionID       uuid.UUID
	CreatedAt       time.Time
	ExpiresAt       time.Time
	State           string
	ConsumedAt      *time.Time
	DeliveredAt     *time.Time
	ConsumerAddress *netip.Addr
	PIN             bool
	BytesSent       int64
}

func tokenStatus(t dbsqlc.DownloadToken, now time.Time) TokenStatus {
	st := TokenStatus{
		Ref: t.Ref, FileID: t.FileID, SessionID: t.SessionID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		ConsumedAt: t.ConsumedAt, DeliveredAt: t.DeliveredAt, ConsumerAddress: t.ConsumedByAddr,
		PIN: t.PinHash != nil, BytesSent: t.BytesSent,
	}
	switch {
	case t.DeliveredAt != nil:
		st.State = TokenDelivered
	case t.ConsumedAt != nil:
		st.State = TokenConsumed
	case t.RevokedAt != nil:
		st.State = TokenRevoked
	case t.LockedAt != nil:
		st.State = TokenLocked
	case !t.ExpiresAt.After(now):
		st.State = TokenExpired
	default:
		st.State = TokenUnused
	}
	return st
}

// ListTokens returns up to limit tokens of a file entry of p's tenant, oldest first, after the
// cursor (whose id is a token's ref), and the next page's cursor when more remain.
func (s *Service) ListTokens(ctx context.Context, p auth.Principal, sid, fid uuid.UUID, limit int, after *Cursor) ([]TokenStatus, *Cursor, error) {
	if _, err := s.getFile(ctx, p.TenantID, sid, fid); err != nil {
		return nil, nil, err
	}
	var (
		rows []dbsqlc.DownloadToken
		err  error
	)
	if after == nil {
		rows, err = s.st.Q.DownloadTokenListFirst(ctx, dbsqlc.DownloadTokenListFirstParams{
			FileID: fid, SessionID: sid, TenantID: p.TenantID, MaxRows: int32(limit + 1),
		})
	} else {
		rows, err = s.st.Q.DownloadTokenListAfter(ctx, dbsqlc.DownloadTokenListAfterParams{
			FileID: fid, SessionID: sid, TenantID: p.TenantID, AfterCreatedAt: after.CreatedAt, AfterRef: after.ID, MaxRows: int32(limit + 1),
		})
	}
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	out := make([]TokenStatus, 0, min(len(rows), limit))
	for _, r := range rows {
		out = append(out, tokenStatus(r, now))
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{CreatedAt: last.CreatedAt, ID: last.Ref}, nil
}

// RevokeToken revokes an unused token of a file entry of p's tenant: its link then answers
// ErrTokenRevoked. A token that is not unused is ErrTokenNotUnused.
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, sid, fid, ref uuid.UUID) error {
	if _, err := s.getFile(ctx, p.TenantID, sid, fid); err != nil {
		return err
	}
	params := dbsqlc.DownloadTokenRevokeParams{Ref: ref, FileID: fid, SessionID: sid, TenantID: p.TenantID}
	err := s.change(ctx, func(q *dbsqlc.Queries, ev *events) error {
		row, err := q.DownloadTokenRevoke(ctx, params)
		if err == nil {
			ev.add(webhook.TokenRevoked, p.TenantID, webhook.TokenData{
				SessionID: sid, FileID: fid, Ref: row.Ref,
				File: webhook.NewFile(row.Name, row.ContentType, row.Size, row.Sha256), Login: &p.Login,
			})
		}
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	n, err := s.st.Q.DownloadTokenExists(ctx, dbsqlc.DownloadTokenExistsParams(params))
	switch {
	case err != nil:
		return err
	case n == 0:
		return ErrTokenNotFound
	}
	return ErrTokenNotUnused
}
