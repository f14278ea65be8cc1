package share

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
)

// Tenant quotas (docs/behaviour.md §12). A tenant's bytes are its stored bytes — live
// uploads, stored entries of live sessions — plus the bytes held for its uploads in progress.
// The stored bytes are a figure that every commit, deletion and purge keeps in its own
// transaction (quota_usage, kept by triggers, whoever changes the rows), less what has expired
// and the purge has not removed yet: so deleting or expiring frees them at once, and a
// decision reads no more rows at a million uploads than at a thousand.
//
// Every upload holds bytes before they are stored, whether or not its tenant has a quota when
// it starts (a quota set later counts them and applies to them): all of them at once when its
// size is known, else step by step as the body streams. Holding is one short transaction that
// locks the tenant's row against its other decisions, reads its bytes, and inserts or grows
// the hold, so that concurrent uploads, on any instance, never together pass the quota. The
// lock is FOR NO KEY UPDATE, which the inserts that reference the tenant do not wait for, and
// the figure is kept by appending, which waits for nobody: a slow decision must not hold up a
// group commit, and so the uploads of other tenants in it. The hold goes in the transaction
// that makes the upload visible, or when the upload is refused. A resumable upload's hold
// lives as long as it does; at each of its requests it must still fit under the quota with the
// holds created before it (a quota set below what the tenant holds refuses the latest first).

// ErrQuotaExceeded refuses an upload that would take its tenant past its quota.
var ErrQuotaExceeded = errors.New("quota exceeded")

// quotaStep is how much an upload of unknown size holds at a time.
const quotaStep = 1 << 20

// hold is the quota held for one upload.
type hold struct {
	s        *Service
	id       uuid.UUID
	tenantID int64
	bytes    int64
}

// grow holds n more bytes, or fails with ErrQuotaExceeded leaving the hold as it was.
func (h *hold) grow(ctx context.Context, n int64) error {
	err := h.s.st.InTx(ctx, func(tx *store.Tx) error {
		quota := tx.Tenant(h.tenantID).Quota()
		max, err := quota.Lock(ctx)
		if err != nil {
			return err
		}
		if f := h.s.hooks.quotaLocked; f != nil {
			f(h.tenantID)
		}
		fits, err := quota.HoldIfFits(ctx, h.id, n, max)
		if err == nil && !fits {
			err = ErrQuotaExceeded
		}
		return err
	})
	if err == nil {
		h.bytes += n
	}
	return err
}

// stillFits fails with ErrQuotaExceeded when the hold id of the tenant no longer fits under
// its quota (lowered since it was made) with the holds created before it.
func (s *Service) stillFits(ctx context.Context, tenantID int64, id uuid.UUID) error {
	fits, err := s.st.Tenant(tenantID).Quota().HoldFits(ctx, id)
	if err == nil && !fits {
		err = ErrQuotaExceeded
	}
	return err
}

// releaseWhenUnavailable bounds the release of a hold whose upload failed because the database
// did not answer: the answer (503) must not wait a whole query timeout more for a release that
// will most likely fail too. A hold not released is swept by the purge.
const releaseWhenUnavailable = 250 * time.Millisecond

// release gives the held bytes back, after the upload failed with cause (nil when it did not
// fail). It runs even when ctx is done. A hold that holds nothing yet (its first step failed)
// has nothing to give back: were its commit's answer lost, the purge sweeps it.
func (h *hold) release(ctx context.Context, cause error) {
	if h == nil || h.bytes == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if errors.Is(cause, store.ErrUnavailable) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, releaseWhenUnavailable)
		defer cancel()
	}
	if err := h.s.st.HoldsByID().Release(ctx, h.id); err != nil {
		h.s.log.Warn("releasing held quota failed; the purge sweeps it", "err", err)
	}
}

// holdingReader holds quota for a body of unknown size as it streams.
type holdingReader struct {
	ctx  context.Context
	r    io.Reader
	h    *hold
	read int64
}

func (hr *holdingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.read += int64(n)
	if need := hr.read - hr.h.bytes; need > 0 {
		// A step at a time; near the quota, exactly what is needed.
		if herr := hr.h.grow(hr.ctx, max(need, quotaStep)); herr != nil {
			if !errors.Is(herr, ErrQuotaExceeded) || need >= quotaStep {
				return 0, herr
			}
			if herr := hr.h.grow(hr.ctx, need); herr != nil {
				return 0, herr
			}
		}
	}
	return n, err
}

// Quota is the quota of an upload's tenant.
type Quota struct {
	TenantID int64
	auth.Quota
}

// QuotaOf is the quota of the principal's tenant, as read with its credentials.
func QuotaOf(p auth.Principal) Quota { return Quota{TenantID: p.TenantID, Quota: p.Quota} }

// FileLimit narrows the limit of a file to the tenant's largest file.
func (q Quota) FileLimit(limit int64, errOver error) (int64, error) {
	if q.MaxFileBytes > 0 && q.MaxFileBytes < limit {
		return q.MaxFileBytes, ErrTooLarge
	}
	return limit, errOver
}

// Usage is what a tenant keeps, and its limits (0 = unlimited).
type Usage struct {
	Bytes        int64
	MaxBytes     int64
	MaxFileBytes int64
	Uploads      int64
	Sessions     int64
	Files        int64
}

// TenantUsage reports the usage of the tenant with id: the bytes of its live uploads, of the
// stored entries of its live sessions and of its uploads in progress, its limits, and how
// many live uploads, sessions and file entries it has.
func TenantUsage(ctx context.Context, st *store.Store, tenantID int64) (Usage, error) {
	quota := st.Tenant(tenantID).Quota()
	bytes, err := quota.UsedBytes(ctx)
	if err != nil {
		return Usage{}, err
	}
	r, err := quota.Usage(ctx)
	if err != nil {
		return Usage{}, err
	}
	return Usage{Bytes: bytes, MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes, Uploads: r.Uploads, Sessions: r.Sessions, Files: r.Files}, nil
}

// Usage reports the usage of p's tenant.
func (s *Service) Usage(ctx context.Context, p auth.Principal) (Usage, error) {
	return TenantUsage(ctx, s.st, p.TenantID)
}

// fits refuses a declared size that the tenant's quota cannot take now: over its largest file
// (ErrTooLarge) or over what is left (ErrQuotaExceeded). Nothing is held: the upload holds
// its bytes when it comes.
func (s *Service) fits(ctx context.Context, q Quota, size int64) error {
	if q.MaxFileBytes > 0 && size > q.MaxFileBytes {
		return ErrTooLarge
	}
	if q.MaxBytes > 0 {
		used, err := s.st.Tenant(q.TenantID).Quota().UsedBytes(ctx)
		if err != nil {
			return err
		}
		if used+size > q.MaxBytes {
			return ErrQuotaExceeded
		}
	}
	return nil
}
