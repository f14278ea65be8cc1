package share

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"hash"
	"io"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
)

// The last byte of a resumable upload (docs/behaviour.md §11): the staged bytes are sealed
// into a blob and committed through the upload pipeline, its digests checked first.

// finishTus seals the staged bytes into the blob and commits it, checking the client's
// digests first.
// A simple upload's id goes into up.
func (s *Service) finishTus(ctx context.Context, lease *tusLease, row store.TusState, st blob.Stage, h hash.Hash, c TusChunk, up *TusUpload) error {
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if c.Digests.SHA256 != nil && !bytes.Equal(c.Digests.SHA256, sum[:]) {
		return ErrDigestMismatch // the bytes of this request are not recorded
	}
	failpoint.Hit("tus.before-seal")
	reusable, err := s.blobs.Seal(ctx, row.BlobKey, st)
	if err != nil {
		if !reusable {
			s.dropTus(ctx, lease, row)
		}
		if errors.Is(err, blob.ErrStageLost) {
			return ErrUploadNotFound
		}
		return err
	}
	// The quota held for the upload (when its tenant has one) goes with the commit.
	content := s.sealed(row.BlobKey, blob.Info{Size: st.Size, SHA256: sum}, &hold{s: s, id: row.ID, tenantID: row.TenantID})
	defer content.Discard(ctx)
	if c.Digests.SHA512 != nil {
		// SHA-512 is not kept up as the bytes come in (it would cost every upload more than
		// twice the hashing); the sealed blob is read once more instead, only when asked.
		got, err := s.blobSHA512(ctx, row.BlobKey, st.Size)
		if err == nil && !bytes.Equal(got, c.Digests.SHA512) {
			err = ErrDigestMismatch
		}
		if err != nil {
			content.Discard(ctx)
			if !reusable {
				s.dropTus(ctx, lease, row)
			}
			return err
		}
	}
	// A simple upload gets an id of its own: the tus upload's id must never open it.
	var uploadID *uuid.UUID
	if row.FileID == nil {
		id := uuid.New()
		uploadID = &id
	}
	complete := func(ctx context.Context, tx *store.Tx) error {
		done, err := tx.TusByID().Complete(ctx, row.ID, lease.holder, row.UploadOffset, hashState(h), stageData(st), uploadID)
		if err == nil && !done {
			err = errTusGone
		}
		return err
	}
	failpoint.Hit("tus.before-commit")
	if row.FileID != nil {
		u := &FileUpload{
			tenantID: row.TenantID, sid: *row.SessionID, fid: *row.FileID,
			tokenHash: row.UploadTokenHash, addr: c.Addr,
		}
		if row.CreatedBy != nil {
			u.login = row.CreatedBy
		}
		err = content.commit(ctx, func(ctx context.Context, tx *store.Tx, ev *events) error {
			if _, err := u.store(ctx, tx, content, ev); err != nil {
				return err
			}
			return complete(ctx, tx)
		})
		if err != nil && !errors.Is(err, errTusGone) {
			err = s.notStored(ctx, u, err)
		}
	} else {
		err = content.commit(ctx, func(ctx context.Context, tx *store.Tx, ev *events) error {
			_, err := createUploads(ctx, tx, ev, uploadRow{
				ID: *uploadID, TenantID: row.TenantID, CreatedBy: deref(row.CreatedBy), Name: deref(row.Name),
				ContentType: deref(row.ContentType), Size: st.Size, SHA256: sum[:], BlobKey: row.BlobKey,
				TTLSeconds: *row.TTLSeconds,
			})
			if err != nil {
				return err
			}
			return complete(ctx, tx)
		})
	}
	if err != nil {
		switch {
		case errors.Is(err, errTusGone):
			return s.tusTaken(ctx, row.ID)
		case store.OutcomeUnknown(err):
			// It may have been committed: the upload is left as it is (a HEAD tells).
		case errors.Is(err, store.ErrUnavailable) && reusable:
			// Try again later: the staged bytes are still there.
		default:
			// It can never be stored (the entry was stored meanwhile, its session expired…),
			// or its staged bytes are gone.
			s.dropTus(ctx, lease, row)
		}
		return err
	}
	failpoint.Hit("tus.after-commit")
	if uploadID != nil {
		up.UploadID = uploadID
	}
	s.removeStage(ctx, row.BlobKey)
	return nil
}

// blobSHA512 reads a blob to compute its SHA-512.
func (s *Service) blobSHA512(ctx context.Context, key string, size int64) ([]byte, error) {
	r, err := s.blobs.Get(ctx, key, 0, size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha512.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
