package share

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// The life of a one-time download token (docs/behaviour.md §4.7 and §9), decided here and
// nowhere else; the SQL of each step is its atomic guard:
//
//	unused ──consume (the PIN when it has one)──▶ consumed ──sent ranges cover the file──▶ delivered
//	unused ──five wrong PINs──▶ locked       unused ──its owner──▶ revoked
//	unused ──expiry──▶ expired
//
// Consuming opens the file first and commits only once it is open: a token is spent on a
// download, never on an error, and a consumption that could not start leaves neither a mark
// nor a token.consumed event. The consumption draws a secret of its own for the delivery (the
// consuming answer's ETag, kept only as a hash): a consumed token answers only a request that
// names that secret, for a range of the file, until the ranges its answers wrote cover the
// whole file, within the resume window. Whoever else holds the link gets nothing more: no
// byte, and before the consumption nothing that identifies the content (no digest).

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

// TokenRequest is what a request of a token's link brings.
type TokenRequest struct {
	Link TokenLink
	// PIN is the PIN given, nil when none.
	PIN *string
	// Addr is the client's address, recorded with the consumption.
	Addr netip.Addr
	// Resume is set when the request names a delivery's secret and a range (Range and
	// If-Range): it continues that delivery when the token is consumed.
	Resume *Resume
}

// Resume asks for a range of a consumed token's file, with the secret of its delivery.
type Resume struct {
	Secret string
	Start  int64
	// Length is the range's length, or -1 for the rest of the file.
	Length int64
}

// TokenDownload is the part of a token's file to send to its recipient.
type TokenDownload struct {
	*Download
	// Secret is the delivery's secret: the ETag of its answers.
	Secret string
	// Start and Length are the range to send: the whole file when the token was consumed by
	// this request (Resumed false), else the range its resume asked for.
	Start, Length int64
	Resumed       bool
	s             *Service
	hash          []byte
}

// DeliverToken answers a request of a token's link: it consumes an unused token and returns
// its whole file (whatever range was asked: the first answer is the whole file), or, for a
// consumed token and a request that names its delivery's secret, the range asked. Otherwise
// the token's error; a consumed token is ErrTokenUsed to everyone else.
func (s *Service) DeliverToken(ctx context.Context, req TokenRequest) (*TokenDownload, error) {
	td, err := s.consumeToken(ctx, req.Link, req.PIN, req.Addr)
	if errors.Is(err, ErrTokenUsed) && req.Resume != nil {
		return s.resumeToken(ctx, req.Link, *req.Resume)
	}
	return td, err
}

// Sent records that the answer wrote n bytes of its range to the connection, from its start.
// When the ranges sent so far cover the whole file, the token is delivered (it can no longer
// be resumed) and, for the first answer to get there, the token.delivered event is recorded
// with it; delivered reports that. It is recorded even when the request's context is done
// (the client went away).
func (d *TokenDownload) Sent(ctx context.Context, n int64) (delivered bool, err error) {
	if n == 0 && d.Size > 0 {
		return false, nil
	}
	ctx = context.WithoutCancel(ctx)
	err = d.s.change(ctx, func(tx *store.Tx, ev *events) error {
		tokens := tx.TokensByHash()
		if err := tokens.RecordSent(ctx, d.hash, d.Start, d.Start+n); err != nil {
			return err
		}
		row, err := tokens.MarkDelivered(ctx, d.hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil // not covered yet, or delivered before
		}
		if err != nil {
			return err
		}
		delivered = true
		ev.add(webhook.TokenDelivered, row.TenantID, webhook.TokenData{
			SessionID: row.SessionID, FileID: row.FileID, Ref: row.Ref,
			File:            eventFile(row.File),
			ConsumerAddress: webhook.Address(row.ConsumedByAddr), BytesSent: &row.BytesSent,
		})
		return nil
	})
	return delivered, err
}

// consumeToken takes a one-time token and returns its whole file, opened. Exactly one of any
// number of concurrent calls for one token succeeds; the rest get ErrTokenUsed. A token with a
// PIN needs it (pin nil: none was given): a missing or wrong PIN leaves the token unused, and
// the fifth wrong one locks it for good.
func (s *Service) consumeToken(ctx context.Context, link TokenLink, pin *string, addr netip.Addr) (*TokenDownload, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	var pinHash []byte
	if pin != nil {
		pinHash = hashPIN(link.Token, *pin)
	}
	secret, secretHash, err := newToken()
	if err != nil {
		return nil, err
	}
	var td *TokenDownload
	err = s.change(ctx, func(tx *store.Tx, ev *events) error {
		row, err := tx.TokensByHash().Consume(ctx, link.byHash(hash), addrOrNil(addr), pinHash, secretHash)
		if err != nil {
			return err
		}
		td = s.tokenDownload(hash, row.Content)
		td.Secret, td.Length = secret, td.Size
		// The file is opened while the token's row is held: if it cannot be, the consumption
		// rolls back, and the token stays unused with no event of it.
		if err := td.openAhead(ctx, 0, td.Size); err != nil {
			return err
		}
		ev.add(webhook.TokenConsumed, row.TenantID, webhook.TokenData{
			SessionID: link.SessionID, FileID: link.FileID, Ref: row.Ref,
			File:            eventFile(row.Content.FileInfo),
			ConsumerAddress: webhook.Address(addrOrNil(addr)),
		})
		return nil
	})
	if err != nil && td != nil {
		td.Close()
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.whyNotConsumed(ctx, link, hash, pin != nil)
	}
	if err != nil {
		return nil, err
	}
	return td, nil
}

// whyNotConsumed explains a consumption that matched no token, counting a wrong PIN.
func (s *Service) whyNotConsumed(ctx context.Context, link TokenLink, hash []byte, pinGiven bool) error {
	ins, err := s.inspectToken(ctx, link, hash)
	if err != nil {
		return err
	}
	if !ins.HasPIN {
		return ErrTokenUsed // taken by a concurrent request after the update looked
	}
	if !pinGiven {
		return ErrPINRequired
	}
	locked, err := s.st.TokensByHash().PINFailure(ctx, hash, maxPINFailures)
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

// resumeToken returns the range r asks of a consumed token's file: only with the secret of its
// delivery, until the file has been delivered, within the resume window after the
// consumption. Anything else is ErrTokenUsed, as for any other use of a consumed token.
func (s *Service) resumeToken(ctx context.Context, link TokenLink, r Resume) (*TokenDownload, error) {
	hash, secretHash := hashToken(link.Token), hashToken(r.Secret)
	if hash == nil {
		return nil, ErrTokenNotFound
	}
	if secretHash == nil || r.Start < 0 {
		return nil, ErrTokenUsed
	}
	content, err := s.st.TokensByHash().Resume(ctx, link.byHash(hash), secretHash, s.limits.TokenResumeWindow)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenUsed
	}
	if err != nil {
		return nil, err
	}
	td := s.tokenDownload(hash, content)
	if r.Start >= td.Size {
		return nil, ErrTokenUsed
	}
	td.Secret, td.Start, td.Resumed = r.Secret, r.Start, true
	td.Length = td.Size - r.Start
	if r.Length >= 0 {
		td.Length = min(r.Length, td.Length)
	}
	return td, nil
}

// tokenDownload is the file of the token with hash, as a stored file entry's row gives it.
func (s *Service) tokenDownload(hash []byte, c store.TokenContent) *TokenDownload {
	meta := FileMeta{Name: c.Name, ContentType: c.ContentType, SHA256: c.SHA256}
	if c.Size != nil {
		meta.Size = *c.Size
	}
	if c.StoredAt != nil {
		meta.ModTime = *c.StoredAt
	}
	return &TokenDownload{Download: s.download(meta, c.BlobKey, ErrFileNotFound), s: s, hash: hash}
}

// byHash names the token of the link, whose hash is hash, as the store finds it.
func (l TokenLink) byHash(hash []byte) store.TokenLink {
	return store.TokenLink{Hash: hash, SessionID: l.SessionID, FileID: l.FileID}
}

// TokenOffer is what the landing page, or a HEAD, of an unused token shows: the file's
// name, type and size and the link's expiry, and nothing that identifies the content (no
// digest: whoever holds the link could confirm a guess of the file with it).
type TokenOffer struct {
	Name, ContentType string
	Size              int64
	ExpiresAt         time.Time
	PIN               bool
	// Sender is the display name of the tenant that sent the file, "" when it has none.
	Sender string
}

// OfferToken describes an unused token's file without consuming it; a token that cannot be
// consumed now is its error. viewed records that its landing page is being shown.
func (s *Service) OfferToken(ctx context.Context, link TokenLink, viewed bool) (TokenOffer, error) {
	hash := hashToken(link.Token)
	if hash == nil {
		return TokenOffer{}, ErrTokenNotFound
	}
	row, err := s.inspectToken(ctx, link, hash)
	if err != nil {
		return TokenOffer{}, err
	}
	if viewed {
		if err := s.st.TokensByHash().MarkViewed(ctx, hash); err != nil {
			return TokenOffer{}, err
		}
	}
	return TokenOffer{
		Name: row.File.Name, ContentType: row.File.ContentType, Size: *row.File.Size, ExpiresAt: row.ExpiresAt,
		PIN: row.HasPIN, Sender: row.Sender,
	}, nil
}

// inspectToken returns a token's row when it could be consumed now, else the error that says
// why not.
func (s *Service) inspectToken(ctx context.Context, link TokenLink, hash []byte) (store.TokenState, error) {
	row, err := s.st.TokensByHash().Inspect(ctx, link.byHash(hash))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return row, s.sessionGone(ctx, link.SessionID, nil, ErrTokenNotFound)
	case err != nil:
		return row, err
	case row.SessionExpired:
		return row, s.sessionExpired(row.SessionExpiresAt, ErrTokenNotFound)
	case row.Revoked:
		return row, ErrTokenRevoked
	case row.Locked:
		return row, ErrTokenLocked
	case row.Consumed:
		return row, ErrTokenUsed
	case row.Expired:
		return row, ErrTokenExpired
	case row.FileState != StateStored:
		return row, ErrNotUploadedYet
	}
	return row, nil
}
