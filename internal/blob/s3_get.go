package blob

import (
	"context"
	"io"

	"github.com/minio/minio-go/v7"
)

// Get implements Store: one GET of exactly the range asked for. The request is made here, so
// a missing object or an unreachable service is reported before any byte is sent on.
func (s *S3) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, ErrNotFound
	}
	var opts minio.GetObjectOptions
	if length > 0 {
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, err
		}
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s3Err(err)
	}
	return &s3Range{exactReader: exactReader{r: body, left: length}, body: body}, nil
}

// s3Range is the body of a ranged GET, read up to the range's length.
type s3Range struct {
	exactReader
	body io.ReadCloser
}

func (r *s3Range) Close() error { return r.body.Close() }
