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
	return &s3Range{body: body, left: length}, nil
}

// s3Range is the body of a ranged GET, read up to the range's length.
type s3Range struct {
	body io.ReadCloser
	left int64
}

func (r *s3Range) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.body.Read(p)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		// The response ended early: the connection broke, or the object is not the size its
		// row says. Either way the download must not look complete.
		err = io.ErrUnexpectedEOF
	}
	if err == nil && r.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (r *s3Range) Close() error { return r.body.Close() }
