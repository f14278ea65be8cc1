package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Download tokens and upload URLs. Their owner reaches them within its tenant (Tokens,
// UploadURLs); their holder, who has no credentials, by the token itself (TokensByHash,
// UploadURLsByHash). The database keeps only the tokens' SHA-256.

// DownloadToken is a new one-time download token.
type DownloadToken struct {
	Ref       uuid.UUID
	FileID    uuid.UUID
	SessionID uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TokenSummary is a token as its owner's list shows it.
type TokenSummary struct {
	Ref            uuid.UUID
	FileID         uuid.UUID
	SessionID      uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
	ConsumedAt     *time.Time
	ConsumedByAddr *netip.Addr
	HasPIN         bool
	RevokedAt      *time.Time
	LockedAt       *time.Time
	BytesSent      int64
	DeliveredAt    *time.Time
	ViewedAt       *time.Time
	// Label is the sender's note of whom the token is for; nil when none.
	Label *string
}

// TokenRef names a token of a file entry as its owner does: by its public ref.
type TokenRef struct {
	SessionID, FileID, Ref uuid.UUID
}

// Tokens are a tenant's one-time download tokens.
type Tokens struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Tokens are the tenant's download tokens.
func (t TenantScope) Tokens() Tokens { return Tokens{q: t.q, tenantID: t.id} }

// NewToken is a download token to insert.
type NewToken struct {
	Hash []byte
	Ref  uuid.UUID
	// PINHash is nil for a token without PIN.
	PINHash []byte
	// Label is the sender's note of whom the token is for; nil when none.
	Label     *string
	CreatedBy string
	// TTLSeconds is nil for a token that lives as long as its session; the expiry is capped
	// at the session's anyway.
	TTLSeconds *int64
	SessionID  uuid.UUID
	FileID     uuid.UUID
}

// Create inserts a token for an entry of a live session of the tenant (ErrNotFound when
// there is no such entry).
func (t Tokens) Create(ctx context.Context, in NewToken) (DownloadToken, error) {
	r, err := t.q.DownloadTokenCreate(ctx, dbsqlc.DownloadTokenCreateParams{
		TokenHash: in.Hash, Ref: in.Ref, PinHash: in.PINHash, Label: in.Label, CreatedBy: in.CreatedBy, TtlSeconds: in.TTLSeconds,
		FileID: in.FileID, SessionID: in.SessionID, TenantID: t.tenantID,
	})
	if err != nil {
		return DownloadToken{}, err
	}
	return DownloadToken{Ref: r.Ref, FileID: r.FileID, SessionID: r.SessionID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}

// List returns up to n tokens of an entry of the tenant, oldest first, after the position
// (whose id is a token's ref; nil for the first page).
func (t Tokens) List(ctx context.Context, sessionID, fileID uuid.UUID, n int, after *After) ([]TokenSummary, error) {
	var rows []dbsqlc.DownloadTokenListFirstRow
	if after == nil {
		var err error
		rows, err = t.q.DownloadTokenListFirst(ctx, dbsqlc.DownloadTokenListFirstParams{
			FileID: fileID, SessionID: sessionID, TenantID: t.tenantID, MaxRows: maxRows(n),
		})
		if err != nil {
			return nil, err
		}
	} else {
		later, err := t.q.DownloadTokenListAfter(ctx, dbsqlc.DownloadTokenListAfterParams{
			FileID: fileID, SessionID: sessionID, TenantID: t.tenantID, AfterCreatedAt: after.At, AfterRef: after.ID, MaxRows: maxRows(n),
		})
		if err != nil {
			return nil, err
		}
		for _, r := range later {
			rows = append(rows, dbsqlc.DownloadTokenListFirstRow(r))
		}
	}
	out := make([]TokenSummary, len(rows))
	for i, r := range rows {
		out[i] = TokenSummary{
			Ref: r.Ref, FileID: r.FileID, SessionID: r.SessionID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
			ConsumedAt: r.ConsumedAt, ConsumedByAddr: r.ConsumedByAddr, HasPIN: r.HasPin, RevokedAt: r.RevokedAt,
			LockedAt: r.LockedAt, BytesSent: r.BytesSent, DeliveredAt: r.DeliveredAt, ViewedAt: r.ViewedAt,
			Label: r.Label,
		}
	}
	return out, nil
}

// RevokedToken is a revoked token with its file.
type RevokedToken struct {
	Ref  uuid.UUID
	File FileInfo
}

// Revoke revokes an unused token of the tenant: neither consumed, expired, locked nor revoked
// (ErrNotFound otherwise).
func (t Tokens) Revoke(ctx context.Context, ref TokenRef) (RevokedToken, error) {
	r, err := t.q.DownloadTokenRevoke(ctx, dbsqlc.DownloadTokenRevokeParams{
		Ref: ref.Ref, FileID: ref.FileID, SessionID: ref.SessionID, TenantID: t.tenantID,
	})
	if err != nil {
		return RevokedToken{}, err
	}
	return RevokedToken{Ref: r.Ref, File: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256}}, nil
}

// Exists reports whether the tenant has the token, in whatever state.
func (t Tokens) Exists(ctx context.Context, ref TokenRef) (bool, error) {
	n, err := t.q.DownloadTokenExists(ctx, dbsqlc.DownloadTokenExistsParams{
		Ref: ref.Ref, FileID: ref.FileID, SessionID: ref.SessionID, TenantID: t.tenantID,
	})
	return n > 0, err
}

// TokenLink names a token as its link does: the token's hash and the ids in its URL.
type TokenLink struct {
	Hash              []byte
	SessionID, FileID uuid.UUID
}

// TokensByHash reaches a download token by the token itself, which is the capability: its
// holder has no credentials, so no tenant scope here.
type TokensByHash struct{ q *dbsqlc.Queries }

// TokensByHash reaches download tokens by their link.
func (r Repos) TokensByHash() TokensByHash { return TokensByHash(r) }

// TokenContent is the stored content of a token's file entry, for its download.
type TokenContent struct {
	FileInfo
	BlobKey  string
	StoredAt *time.Time
}

// ConsumedToken is a token taken by Consume, with its file.
type ConsumedToken struct {
	Ref      uuid.UUID
	TenantID int64
	Content  TokenContent
}

// Consume takes an unused token of a stored entry of a live session, with its PIN when it
// has one (pinHash nil: none given), recording who took it and the hash of the delivery's
// secret. Of concurrent calls for one token exactly one gets it; the others, and every call
// for a token that cannot be taken, get ErrNotFound.
func (t TokensByHash) Consume(ctx context.Context, link TokenLink, addr *netip.Addr, pinHash, deliveryHash []byte) (ConsumedToken, error) {
	r, err := t.q.DownloadTokenConsume(ctx, dbsqlc.DownloadTokenConsumeParams{
		TokenHash: link.Hash, FileID: link.FileID, SessionID: link.SessionID, Addr: addr,
		PinHash: pinHash, DeliveryHash: deliveryHash,
	})
	if err != nil {
		return ConsumedToken{}, err
	}
	return ConsumedToken{Ref: r.Ref, TenantID: r.TenantID, Content: TokenContent{
		FileInfo: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256},
		BlobKey:  r.BlobKey, StoredAt: r.StoredAt,
	}}, nil
}

// TokenState is a token's state, to explain a refusal, render its landing page or answer a
// HEAD.
type TokenState struct {
	Consumed, Expired, Revoked, Locked, HasPIN bool
	ExpiresAt                                  time.Time
	SessionExpired                             bool
	SessionExpiresAt                           time.Time
	// FileState is the entry's: "pending" or "stored".
	FileState string
	File      FileInfo
	// Sender is the display name of the token's tenant, "" when it has none.
	Sender string
}

// Inspect returns a token's state.
func (t TokensByHash) Inspect(ctx context.Context, link TokenLink) (TokenState, error) {
	r, err := t.q.DownloadTokenInspect(ctx, dbsqlc.DownloadTokenInspectParams{TokenHash: link.Hash, FileID: link.FileID, SessionID: link.SessionID})
	if err != nil {
		return TokenState{}, err
	}
	return TokenState{
		Consumed: r.Consumed, Expired: r.Expired, Revoked: r.Revoked, Locked: r.Locked, HasPIN: r.HasPin,
		ExpiresAt: r.ExpiresAt, SessionExpired: r.SessionExpired, SessionExpiresAt: r.SessionExpiresAt,
		FileState: r.State, File: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256},
		Sender: deref(r.Sender),
	}, nil
}

// PINFailure counts a wrong PIN of an unused token and reports whether it locked the token
// (the maxFailures-th); ErrNotFound when the token is no longer unused.
func (t TokensByHash) PINFailure(ctx context.Context, hash []byte, maxFailures int32) (locked bool, err error) {
	return t.q.DownloadTokenPinFailure(ctx, dbsqlc.DownloadTokenPinFailureParams{TokenHash: hash, MaxFailures: maxFailures})
}

// Resume returns a consumed token's content for the holder of its delivery's secret, until
// the file has been delivered, within window after the consumption, while the session lives
// (ErrNotFound otherwise).
func (t TokensByHash) Resume(ctx context.Context, link TokenLink, deliveryHash []byte, window time.Duration) (TokenContent, error) {
	r, err := t.q.DownloadTokenResume(ctx, dbsqlc.DownloadTokenResumeParams{
		TokenHash: link.Hash, FileID: link.FileID, SessionID: link.SessionID, DeliveryHash: deliveryHash,
		WindowSeconds: seconds(window),
	})
	if err != nil {
		return TokenContent{}, err
	}
	return TokenContent{
		FileInfo: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256},
		BlobKey:  r.BlobKey, StoredAt: r.StoredAt,
	}, nil
}

// RecordSent adds the byte range [start, stop) of the file that an answer of the token wrote
// to the connection.
func (t TokensByHash) RecordSent(ctx context.Context, hash []byte, start, stop int64) error {
	return t.q.DownloadTokenRecordSent(ctx, dbsqlc.DownloadTokenRecordSentParams{TokenHash: hash, Start: start, Stop: stop})
}

// DeliveredToken is a token that MarkDelivered marked, with its file.
type DeliveredToken struct {
	Ref            uuid.UUID
	TenantID       int64
	FileID         uuid.UUID
	SessionID      uuid.UUID
	ConsumedByAddr *netip.Addr
	BytesSent      int64
	File           FileInfo
}

// MarkDelivered marks a consumed token delivered once the ranges sent cover its file, once:
// ErrNotFound when they do not yet, or it was marked before.
func (t TokensByHash) MarkDelivered(ctx context.Context, hash []byte) (DeliveredToken, error) {
	r, err := t.q.DownloadTokenMarkDelivered(ctx, hash)
	if err != nil {
		return DeliveredToken{}, err
	}
	return DeliveredToken{
		Ref: r.Ref, TenantID: r.TenantID, FileID: r.FileID, SessionID: r.SessionID, ConsumedByAddr: r.ConsumedByAddr,
		BytesSent: r.BytesSent, File: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256},
	}, nil
}

// MarkViewed records that the token's landing page was shown.
func (t TokensByHash) MarkViewed(ctx context.Context, hash []byte) error {
	return t.q.DownloadTokenMarkViewed(ctx, hash)
}

// UploadURL is a new upload URL.
type UploadURL struct {
	SessionID uuid.UUID
	FileID    uuid.UUID
	ExpiresAt time.Time
}

// UploadURLs are a tenant's upload URLs.
type UploadURLs struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// UploadURLs are the tenant's upload URLs.
func (t TenantScope) UploadURLs() UploadURLs { return UploadURLs{q: t.q, tenantID: t.id} }

// Create inserts an upload URL for a pending entry of a live session of the tenant, that
// expires ttlSeconds from now or with the session (ErrNotFound when there is no such entry).
func (u UploadURLs) Create(ctx context.Context, hash []byte, fileID uuid.UUID, createdBy string, ttlSeconds int64) (UploadURL, error) {
	r, err := u.q.UploadTokenCreate(ctx, dbsqlc.UploadTokenCreateParams{
		TokenHash: hash, CreatedBy: createdBy, TtlSeconds: ttlSeconds, FileID: fileID, TenantID: u.tenantID,
	})
	if err != nil {
		return UploadURL{}, err
	}
	return UploadURL{SessionID: r.SessionID, FileID: r.FileID, ExpiresAt: r.ExpiresAt}, nil
}

// UploadURLsByHash reaches an upload URL by its token, which is the capability: its holder
// has no credentials, so no tenant scope here.
type UploadURLsByHash struct{ q *dbsqlc.Queries }

// UploadURLsByHash reaches upload URLs by their token.
func (r Repos) UploadURLsByHash() UploadURLsByHash { return UploadURLsByHash(r) }

// UploadURLState is an upload URL's state, and the tenant it belongs to.
type UploadURLState struct {
	TenantID int64
	UsedAt   *time.Time
	Expired  bool
}

// Get returns the state of the upload URL of the entry named by link (ErrNotFound when none).
func (u UploadURLsByHash) Get(ctx context.Context, link TokenLink) (UploadURLState, error) {
	r, err := u.q.UploadTokenGet(ctx, dbsqlc.UploadTokenGetParams{TokenHash: link.Hash, FileID: link.FileID, SessionID: link.SessionID})
	if err != nil {
		return UploadURLState{}, err
	}
	return UploadURLState{TenantID: r.TenantID, UsedAt: r.UsedAt, Expired: r.Expired}, nil
}

// Use uses up an unused, unexpired upload URL of an entry, recording the uploader's address;
// it reports whether it did.
func (u UploadURLsByHash) Use(ctx context.Context, hash []byte, fileID uuid.UUID, addr *netip.Addr) (bool, error) {
	n, err := u.q.UploadTokenUse(ctx, dbsqlc.UploadTokenUseParams{TokenHash: hash, FileID: fileID, Addr: addr})
	return n > 0, err
}
