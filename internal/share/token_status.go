package share

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// What the owner of a file entry sees of its one-time tokens, and how it revokes one
// (docs/behaviour.md §9.4).

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
	ViewedAt        *time.Time
	ConsumerAddress *netip.Addr
	PIN             bool
	BytesSent       int64
	// Label is the creator's note of whom the link is for; empty for none.
	Label string
}

func tokenStatus(t store.TokenSummary, now time.Time) TokenStatus {
	st := TokenStatus{
		Ref: t.Ref, FileID: t.FileID, SessionID: t.SessionID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		ConsumedAt: t.ConsumedAt, DeliveredAt: t.DeliveredAt, ViewedAt: t.ViewedAt, ConsumerAddress: t.ConsumedByAddr,
		PIN: t.HasPIN, BytesSent: t.BytesSent, Label: deref(t.Label),
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
	rows, err := s.st.Tenant(p.TenantID).Tokens().List(ctx, sid, fid, limit+1, after.position())
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
	tok := store.TokenRef{SessionID: sid, FileID: fid, Ref: ref}
	err := s.change(ctx, func(tx *store.Tx, ev *events) error {
		row, err := tx.Tenant(p.TenantID).Tokens().Revoke(ctx, tok)
		if err == nil {
			ev.add(webhook.TokenRevoked, p.TenantID, webhook.TokenData{
				SessionID: sid, FileID: fid, Ref: row.Ref, File: eventFile(row.File), Login: &p.Login,
			})
		}
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	exists, err := s.st.Tenant(p.TenantID).Tokens().Exists(ctx, tok)
	switch {
	case err != nil:
		return err
	case !exists:
		return ErrTokenNotFound
	}
	return ErrTokenNotUnused
}
