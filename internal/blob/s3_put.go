package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sort"
	"sync"

	"github.com/minio/minio-go/v7"
)

var putOptions = minio.PutObjectOptions{ContentType: "application/octet-stream"}

// Put implements Store. The content goes up in parts of PartSize, each signed with its own
// SHA-256 so that the service checks it arrived intact, while the blob's size and SHA-256 are
// computed on the way; at most PartBuffers parts are in memory at once.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	name, err := s.name(key)
	if err != nil {
		return Info{}, err
	}
	sum := sha256.New()
	head := s.heads.Get().(*[]byte)
	n, eof, err := fill(ctx, r, *head, sum)
	if err != nil {
		s.heads.Put(head)
		return Info{}, err
	}
	if eof {
		defer s.heads.Put(head)
		info := Info{Size: int64(n)}
		copy(info.SHA256[:], sum.Sum(nil))
		_, err := s.core.PutObject(ctx, s.bucket, name, bytes.NewReader((*head)[:n]), int64(n),
			"", hex.EncodeToString(info.SHA256[:]), noStreamingSignature(putOptions))
		if err != nil {
			return Info{}, s.putErr(ctx, err)
		}
		return info, nil
	}
	return s.putMultipart(ctx, name, r, sum, head, n)
}

// noStreamingSignature makes the client sign the payload hash it is given, instead of
// re-hashing the content in chunks (its default over plain HTTP).
func noStreamingSignature(o minio.PutObjectOptions) minio.PutObjectOptions {
	o.DisableContentSha256 = true
	return o
}

func (s *S3) putErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s3Err(err)
}

// putMultipart uploads the rest of r, after the first n bytes already read into head.
func (s *S3) putMultipart(ctx context.Context, name string, r io.Reader, sum hash.Hash, head *[]byte, n int) (info Info, err error) {
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, name, putOptions)
	if err != nil {
		s.heads.Put(head)
		return Info{}, s.putErr(ctx, err)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		parts   []minio.CompletePart
		partErr error
		// free holds this upload's part buffers between uses. It never has more than
		// s.buffers of them, and that is what bounds an upload's memory: a pool shared by
		// all uploads would not, since sync.Pool may hand out a new buffer while another
		// one waits in another processor's cache.
		free      = make(chan *[]byte, s.buffers)
		allocated = 0
		buf       *[]byte
	)
	getBuf := func() (*[]byte, error) {
		select {
		case b := <-free:
			return b, nil
		default:
		}
		if allocated < s.buffers {
			allocated++
			return s.parts.Get().(*[]byte), nil
		}
		select {
		case b := <-free:
			return b, nil
		case <-pctx.Done():
			return nil, pctx.Err()
		}
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return partErr
	}
	defer func() {
		if err != nil {
			// Parts still in flight would outlive an abort and keep their storage; stop and
			// wait for them first.
			cancel()
			wg.Wait()
			actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer acancel()
			// An abort that fails leaves an incomplete upload for SweepTemp.
			_ = s.core.AbortMultipartUpload(actx, s.bucket, name, uploadID)
		}
		if buf != nil {
			s.parts.Put(buf)
		}
		for range len(free) {
			s.parts.Put(<-free)
		}
	}()
	// The first part buffer takes the head over, so that its bytes go up in part 1.
	buf, _ = getBuf()
	copy(*buf, (*head)[:n])
	s.heads.Put(head)
	partSum := sha256.New()
	partSum.Write((*buf)[:n])
	info.Size = int64(n)
	for num := 1; ; num++ {
		m, eof, err := fill(pctx, r, (*buf)[n:], sum, partSum)
		n += m
		info.Size += int64(m)
		if err != nil {
			if perr := failed(); perr != nil && ctx.Err() == nil {
				return Info{}, perr
			}
			return Info{}, err
		}
		if n > 0 {
			wg.Add(1)
			go func(num int, buf *[]byte, n int, hexSum string) {
				defer wg.Done()
				defer func() { free <- buf }()
				p, err := s.core.PutObjectPart(pctx, s.bucket, name, uploadID, num, bytes.NewReader((*buf)[:n]), int64(n),
					minio.PutObjectPartOptions{Sha256Hex: hexSum, DisableContentSha256: true})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if partErr == nil {
						partErr = s.putErr(ctx, err)
						cancel()
					}
					return
				}
				parts = append(parts, minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
			}(num, buf, n, hex.EncodeToString(partSum.Sum(nil)))
			buf = nil
		}
		if eof {
			break
		}
		if buf == nil {
			if buf, err = getBuf(); err != nil {
				if perr := failed(); perr != nil {
					return Info{}, perr
				}
				return Info{}, ctx.Err()
			}
		}
		n = 0
		partSum.Reset()
	}
	wg.Wait()
	if err := failed(); err != nil {
		return Info{}, err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, name, uploadID, parts, putOptions); err != nil {
		return Info{}, s.putErr(ctx, err)
	}
	copy(info.SHA256[:], sum.Sum(nil))
	return info, nil
}

// fill reads r into buf until buf is full or r ends (eof), feeding the hashes on the way. An
// error is r's own, or ctx's.
func fill(ctx context.Context, r io.Reader, buf []byte, hashes ...hash.Hash) (n int, eof bool, err error) {
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		m, rerr := r.Read(buf[n:])
		for _, h := range hashes {
			h.Write(buf[n : n+m])
		}
		n += m
		if rerr == io.EOF {
			return n, true, nil
		}
		if rerr != nil {
			return n, false, rerr
		}
	}
	return n, false, nil
}
