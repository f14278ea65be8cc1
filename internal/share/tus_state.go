package share

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// A resumable upload's state as its URL finds it (HEAD, and the start of every request).

// GetTus returns an upload's state (HEAD). An unfinished upload past its expiry answers as
// expired until the purge removes it. While a request writes the upload, it is asked to give it
// up first, so that the offset answered is the one a PATCH may go on from: a client resuming
// after its connection broke finds the bytes its broken request brought.
func (s *Service) GetTus(ctx context.Context, id uuid.UUID) (TusUpload, error) {
	row, err := s.tusRow(ctx, id)
	if err == nil && row.Leased && row.CompletedAt == nil {
		// A holder whose client still sends keeps the upload: then the offset is the one
		// recorded so far, and a PATCH from it is refused (423) while that request runs.
		if err := s.awaitTusRelease(ctx, id); err != nil && !errors.Is(err, ErrTusLocked) {
			return TusUpload{}, err
		}
		row, err = s.tusRow(ctx, id)
	}
	if err != nil {
		return TusUpload{}, err
	}
	return tusFromRow(row), nil
}

// tusRow reads an upload's row, the error of an expired one, ErrUploadNotFound when there is
// none.
func (s *Service) tusRow(ctx context.Context, id uuid.UUID) (store.TusState, error) {
	row, err := s.st.TusByID().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return row, ErrUploadNotFound
	}
	if err != nil {
		return row, err
	}
	return row, tusExpired(row)
}

// tusTaken is the error of a request whose change of upload id matched nothing: the upload is
// gone, or another request holds it now.
func (s *Service) tusTaken(ctx context.Context, id uuid.UUID) error {
	if _, err := s.st.TusByID().Get(ctx, id); errors.Is(err, store.ErrNotFound) {
		return ErrUploadNotFound
	}
	return ErrTusLocked
}

// tusExpired is the error of an unfinished upload past its expiry, or whose file entry's
// session expired (which answers as on every route below it).
func tusExpired(r store.TusState) error {
	switch {
	case r.CompletedAt != nil:
		return nil
	case r.SessionExpired:
		return ErrSessionExpired
	case r.Expired:
		return ErrUploadExpired
	}
	return nil
}

func tusFromRow(r store.TusState) TusUpload {
	return TusUpload{
		ID: r.ID, Length: r.Length, Offset: r.UploadOffset, Metadata: r.Metadata, ExpiresAt: r.ExpiresAt,
		Completed: r.CompletedAt != nil, UploadID: r.UploadID,
	}
}
