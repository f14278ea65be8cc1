package blob

import (
	"context"
	"time"

	"github.com/minio/minio-go/v7"
)

// Walk implements Store: it lists the objects below the prefix, a page of 1,000 at a time.
func (s *S3) Walk(ctx context.Context, olderThan time.Time, fn func(key string) error) error {
	noOwner := false
	for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true, FetchOwner: &noOwner}) {
		if obj.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s3Err(obj.Err)
		}
		key := s.keyOf(obj.Key)
		if key == "" || !obj.LastModified.Before(olderThan) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// SweepTemp implements Store: it aborts the multipart uploads below the prefix that started
// before olderThan and have received no part since: the leftovers of a crashed instance. An
// upload still receiving parts is left alone, however long it has been running, as the disk
// store leaves a temp file alone while it is being written.
func (s *S3) SweepTemp(ctx context.Context, olderThan time.Time) (int, error) {
	n := 0
	keyMarker, idMarker := "", ""
	for {
		// The listing asks for the whole bucket and filters here: MinIO takes a prefix for one
		// exact object name, and lists all of a bucket's uploads only without one.
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, "", keyMarker, idMarker, "", 1000)
		if err != nil {
			return n, s3Err(err)
		}
		for _, u := range res.Uploads {
			if s.keyOf(u.Key) == "" || !u.Initiated.Before(olderThan) || s.staging(ctx, u.Key) {
				continue
			}
			active, err := s.partSince(ctx, u.Key, u.UploadID, olderThan)
			if err != nil {
				return n, err
			}
			if active {
				continue
			}
			err = s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
			if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchUpload {
				return n, s3Err(err)
			}
			if err == nil {
				n++
			}
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return n, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// partSince reports whether an incomplete upload received a part at or after t.
func (s *S3) partSince(ctx context.Context, name, uploadID string, t time.Time) (bool, error) {
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, name, uploadID, marker, 1000)
		if minio.ToErrorResponse(err).Code == minio.NoSuchUpload {
			return true, nil // completed or aborted meanwhile: nothing to sweep
		}
		if err != nil {
			return false, s3Err(err)
		}
		for _, p := range res.ObjectParts {
			if !p.LastModified.Before(t) {
				return true, nil
			}
		}
		if !res.IsTruncated {
			return false, nil
		}
		marker = res.NextPartNumberMarker
	}
}
