package share

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
)

// Resumable uploads (tus, docs/behaviour.md §11). A tus upload receives its content over any
// number of requests, on any instance: each request appends to a staging area of the blob
// store (blob.Stager) and then records, in the upload's row, how many bytes are durable and
// the SHA-256 state after them. Only the request that brings the last byte goes the rest of
// the upload pipeline: the staged bytes are sealed into a blob, and one transaction makes it
// visible (a simple upload, or a file entry's content) and marks the tus upload complete.
//
// Requests that change an upload hold its lease (tus_lease.go), kept in the upload's row: no
// connection is held while a request waits for its client's bytes. A second request asks the
// holder to give the upload up; the holder stops reading, records what came in and releases
// the lease, and only then does the second go on, so the bytes of two requests never mix. A
// lease whose holder died runs out; until then the upload answers ErrTusLocked. Every change of
// the row is conditional on the lease, and the purge skips an upload whose lease is held, so it
// never removes an upload that a request is writing.

// Errors of resumable uploads.
var (
	ErrTusLocked         = errors.New("upload locked")
	ErrTusOffsetMismatch = errors.New("offset mismatch")
	ErrTusLengthExceeded = errors.New("upload length exceeded")
	// ErrTooManyUnfinished refuses a tenant's resumable upload past Limits.TusMaxUnfinished
	// unfinished ones: staged bytes and quota holds are bounded per tenant.
	ErrTooManyUnfinished = errors.New("too many unfinished uploads")
)

// errTusGone: the upload's row went away under a request (its file entry was deleted), or
// another request holds it now.
var errTusGone = errors.New("tus upload gone")

// TusUpload is the state of a resumable upload, as HEAD and PATCH report it.
type TusUpload struct {
	ID uuid.UUID
	// UploadID is the simple upload it became once complete (nil before, and for a file
	// entry): a download id is never the id of the tus upload.
	UploadID *uuid.UUID
	Length   int64
	// Offset counts the bytes received and durable.
	Offset int64
	// Metadata is the Upload-Metadata of the creation, without its token.
	Metadata  string
	ExpiresAt time.Time
	Completed bool
}

// NewTus describes a resumable upload to create: the content of file entry File, or else a
// simple upload described by Upload.
type NewTus struct {
	Length   int64
	Metadata string
	File     *TusFile
	Upload   NewUpload
}

// TusFile names a file entry.
type TusFile struct {
	SessionID, FileID uuid.UUID
}

// TusChunk is what one request brings to a resumable upload.
type TusChunk struct {
	// Offset is where the client says its bytes go (Upload-Offset).
	Offset int64
	Body   io.Reader
	// Length is the body's announced length, or -1.
	Length int64
	// Digests are those of the whole content; they are checked when this request brings the
	// last byte.
	Digests Digests
	// Addr is the client's address, recorded when an upload URL's token is used.
	Addr netip.Addr
	// Stop, when set, makes a read of Body in progress end at once, and every later one fail:
	// the request gives the upload up to another.
	Stop func()
}

// CreateTus creates a resumable upload for who: a user (Principal), or for a file entry also
// the holder of its upload URL's token. Every refusal that does not depend on the content
// (credentials, the entry's state, sizes) is made here.
func (s *Service) CreateTus(ctx context.Context, who Uploader, in NewTus) (_ TusUpload, err error) {
	if in.Length < 0 {
		return TusUpload{}, ErrInvalidSize
	}
	params := store.NewTus{ID: uuid.New(), Metadata: in.Metadata, Length: in.Length, Expiry: s.limits.TusExpiry}
	var tenantID int64
	kind := blob.KindUpload
	var quota Quota
	if in.File != nil {
		u, err := s.BeginFileUpload(ctx, who, in.File.SessionID, in.File.FileID)
		if err != nil {
			return TusUpload{}, err
		}
		quota = u.Quota
		if limit, errOver := u.Limit(); in.Length > limit {
			return TusUpload{}, errOver
		}
		if u.declared != nil && in.Length != *u.declared {
			return TusUpload{}, ErrSizeMismatch
		}
		kind = blob.KindFile
		tenantID, params.UploadTokenHash = u.tenantID, u.tokenHash
		params.SessionID, params.FileID = &u.sid, &u.fid
	} else {
		if who.Principal == nil {
			return TusUpload{}, ErrUploadTokenInvalid
		}
		quota = QuotaOf(*who.Principal)
		if limit, _ := quota.FileLimit(s.limits.MaxUploadBytes, ErrTooLarge); in.Length > limit {
			return TusUpload{}, ErrTooLarge
		}
		ttl := in.Upload.TTLSeconds
		if ttl == 0 {
			ttl = int64(s.limits.UploadTTL / time.Second)
		}
		name, ct := in.Upload.Name, in.Upload.ContentType
		tenantID = who.Principal.TenantID
		params.Name, params.ContentType, params.TTLSeconds = &name, &ct, &ttl
	}
	if who.Principal != nil {
		params.CreatedBy = &who.Principal.Login
	}
	// The whole Upload-Length is held while the upload is in progress, whether or not the
	// tenant has a quota; the hold, named by the upload's id, goes with its commit, its
	// termination or its expiry.
	h := &hold{s: s, id: params.ID, tenantID: quota.TenantID}
	if err := h.grow(ctx, in.Length); err != nil {
		return TusUpload{}, err
	}
	defer func() {
		if err != nil {
			h.release(ctx, err)
		}
	}()
	params.SHA256State = hashState(sha256.New())
	params.BlobKey = blob.NewKey(kind)
	if in.File != nil {
		// An unfinished upload of the entry that expired frees it for this one.
		keys, err := s.st.TusByID().DropExpiredForFile(ctx, in.File.FileID)
		if err != nil {
			return TusUpload{}, err
		}
		for _, k := range keys {
			s.removeStage(ctx, k)
		}
	}
	st, err := s.blobs.CreateStage(ctx, params.BlobKey)
	if err != nil {
		return TusUpload{}, err
	}
	params.StageState = stageData(st)
	var row store.TusUpload
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		tus := tx.Tenant(tenantID).TusUploads()
		n, err := tus.CountUnfinishedLocked(ctx)
		if err != nil {
			return err
		}
		if n >= int64(s.limits.TusMaxUnfinished) {
			return ErrTooManyUnfinished
		}
		row, err = tus.Create(ctx, params)
		return err
	})
	if err != nil {
		s.removeStage(ctx, params.BlobKey)
		switch {
		case errors.Is(err, store.ErrReferenceMissing):
			return TusUpload{}, ErrFileNotFound // deleted meanwhile
		case errors.Is(err, store.ErrConflict):
			// The entry has an unfinished upload: one at a time, so that an upload URL (or a
			// user) cannot hold the entry's size of the quota again and again.
			return TusUpload{}, ErrUploadInProgress
		}
		return TusUpload{}, err
	}
	return TusUpload{
		ID: row.ID, Length: row.Length, Offset: row.UploadOffset, Metadata: row.Metadata, ExpiresAt: row.ExpiresAt,
	}, nil
}

// AppendTus adds a request's bytes to an upload (PATCH, or the body of the creation). The
// offset it reports counts only durable bytes; when the request breaks off, the bytes that
// came in are kept and the body's error returned. The request that brings the last byte makes
// the content visible, or fails and leaves the upload where it was before it (so it can be
// sent again), or, when the content can never be stored (the entry was stored meanwhile, its
// session expired…), removes the upload. When another request asks for the upload meanwhile,
// the request stops reading, keeps what came in and answers ErrTusLocked.
func (s *Service) AppendTus(ctx context.Context, id uuid.UUID, c TusChunk) (TusUpload, error) {
	lease, err := s.takeTus(ctx, id, c.Stop)
	if err != nil {
		return TusUpload{}, err
	}
	defer lease.release()
	row, err := s.st.TusByID().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return TusUpload{}, ErrUploadNotFound
	}
	if err != nil {
		return TusUpload{}, err
	}
	up := tusFromRow(row)
	switch {
	case row.CompletedAt != nil:
		// Sent again after its answer was lost: nothing more to take.
		if c.Offset != row.Length {
			return up, ErrTusOffsetMismatch
		}
		if c.Length > 0 {
			return up, ErrTusLengthExceeded
		}
		return up, nil
	case tusExpired(row) != nil:
		return up, tusExpired(row)
	case c.Offset != row.UploadOffset:
		return up, ErrTusOffsetMismatch
	case c.Length > row.Length-row.UploadOffset:
		return up, ErrTusLengthExceeded
	}
	// A quota lowered since refuses the latest holds first; refused, the upload goes whole.
	if err := s.stillFits(ctx, row.TenantID, row.ID); err != nil {
		if errors.Is(err, ErrQuotaExceeded) {
			s.dropTus(context.WithoutCancel(ctx), lease, row)
		}
		return up, err
	}
	h, err := restoreHash(row.SHA256State)
	if err != nil {
		return up, err
	}
	body := io.TeeReader(&limitReader{r: lease.body(c.Body), left: row.Length - row.UploadOffset, errOver: ErrTusLengthExceeded}, h)
	old := blob.Stage{Size: row.UploadOffset, Data: row.StageState}
	st, rerr := s.blobs.Append(ctx, row.BlobKey, old, body)
	switch {
	case errors.Is(rerr, ErrTusLengthExceeded):
		return up, ErrTusLengthExceeded // nothing of this request is recorded
	case errors.Is(rerr, blob.ErrStageLost):
		// Its staged bytes are gone (a commit whose outcome was unknown consumed them): the
		// upload cannot go on, and a client that finds it gone starts over.
		s.dropTus(context.WithoutCancel(ctx), lease, row)
		return up, ErrUploadNotFound
	}
	// From here on the work goes on when the client goes away: what came in is kept.
	ctx = context.WithoutCancel(ctx)
	if lease.lost() {
		// Gone, or another request may hold the upload: nothing is recorded.
		return up, s.tusTaken(ctx, id)
	}
	if st.Size < row.Length || (rerr != nil && st.Size == old.Size) {
		if st.Size > old.Size {
			failpoint.Hit("tus.before-advance")
			advanced, err := s.st.TusByID().Advance(ctx, id, lease.holder, old.Size, store.TusProgress{
				Offset: st.Size, SHA256State: hashState(h), StageState: stageData(st),
			})
			if err != nil {
				return up, err
			}
			if !advanced {
				return up, s.tusTaken(ctx, id)
			}
			up.Offset = st.Size
			failpoint.Hit("tus.after-advance")
		}
		return up, rerr
	}
	// The last byte is in (whatever the body did after it).
	if err := s.finishTus(ctx, lease, row, st, h, c, &up); err != nil {
		return up, err
	}
	up.Offset, up.Completed = row.Length, true
	return up, nil
}

// dropTus removes an unfinished upload that can never be completed: its row, then its staged
// bytes.
func (s *Service) dropTus(ctx context.Context, lease *tusLease, row store.TusState) {
	_, err := s.st.TusByID().Delete(ctx, row.ID, lease.holder)
	if errors.Is(err, store.ErrNotFound) {
		return // gone already, or another request holds it now: its staged bytes are its own
	}
	if err != nil {
		s.log.Warn("removing a tus upload failed; the purge removes it when it expires", "ref", row.Ref, "err", err)
		return
	}
	s.removeStage(ctx, row.BlobKey)
}

// TerminateTus removes an upload at once with its staged bytes (tus termination). The content
// of a completed upload is not touched: it belongs to its simple upload or file entry now.
func (s *Service) TerminateTus(ctx context.Context, id uuid.UUID) error {
	lease, err := s.takeTus(ctx, id, nil)
	if err != nil {
		return err
	}
	defer lease.release()
	row, err := s.st.TusByID().Delete(ctx, id, lease.holder)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUploadNotFound
	}
	if err != nil {
		return err
	}
	s.removeStage(ctx, row.BlobKey)
	if row.CompletedAt == nil {
		// A blob sealed by a commit that failed.
		s.removeBlob(ctx, row.BlobKey)
	}
	return nil
}

// removeStage removes a staging area; a failure is left to the purge's sweep.
func (s *Service) removeStage(ctx context.Context, key string) {
	if err := s.blobs.RemoveStage(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("removing staged bytes failed; the purge will remove them", "key", key, "err", err)
	}
}

func hashState(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("sha256 state: %v", err)) // cannot happen: the state is in memory
	}
	return b
}

func restoreHash(state []byte) (hash.Hash, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("tus upload's sha256 state: %w", err)
	}
	return h, nil
}

// stageData is a Stage's data for its jsonb column, which holds an empty object when the store
// keeps nothing.
func stageData(st blob.Stage) []byte {
	if len(st.Data) == 0 {
		return []byte("{}")
	}
	return st.Data
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
