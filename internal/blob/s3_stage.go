package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// On S3 a staging area is a multipart upload of the blob's own object name plus, below
// <prefix>t/<key>/, a marker object (created first, removed last) and the tail: S3 takes parts
// of at least 5 MiB but the last, and a request may bring any number of bytes, so whatever
// does not fill a part at the end of a request is stored as an object of its own (always
// under 5 MiB) and read back, in front of the next request's bytes, by the next Append.
//
//	Append: [tail of the last request][this request's bytes …………………………]
//	        └─ parts of PartSize, the rest as a part if ≥ 5 MiB, else as the new tail
//
// So a request holds one part buffer of memory at most, and every byte it acknowledges is in
// a completed part or a stored object. Seal copies the tail into the last part on the server
// (or the whole object, when no part went up) and completes the multipart upload, which is
// then gone: a Seal whose commit fails cannot be sealed again. SweepTemp leaves the multipart
// uploads of staging areas alone (their marker says they belong to a resumable upload, which
// may be idle for a day); RemoveStage aborts them.

// s3Stage is Stage.Data on S3.
type s3Stage struct {
	// UploadID is the multipart upload, once a part went up.
	UploadID string `json:"uploadId,omitempty"`
	// Parts are the completed parts, in order; all but the tail's bytes.
	Parts []s3Part `json:"parts,omitempty"`
	// Tail counts the last bytes, held in the tail object rather than in a part.
	Tail int64 `json:"tail,omitempty"`
}

type s3Part struct {
	N    int    `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

func parseS3Stage(st Stage) (s3Stage, error) {
	var s s3Stage
	if len(st.Data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(st.Data, &s); err != nil {
		return s, fmt.Errorf("s3 staging state: %w", err)
	}
	return s, nil
}

// stagePrefix is the name below which the staging objects of key live.
func (s *S3) stagePrefix(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return s.prefix + "t/" + key + "/", nil
}

func tailName(prefix string, size int64) string {
	return prefix + "tail-" + strconv.FormatInt(size, 10)
}

const stageMarker = "marker"

// CreateStage implements Stager: the marker object.
func (s *S3) CreateStage(ctx context.Context, key string) (Stage, error) {
	prefix, err := s.stagePrefix(key)
	if err != nil {
		return Stage{}, err
	}
	if err := s.putSmall(ctx, prefix+stageMarker, nil); err != nil {
		return Stage{}, err
	}
	return Stage{}, nil
}

// putSmall stores b as one object, signed with its SHA-256.
func (s *S3) putSmall(ctx context.Context, name string, b []byte) error {
	sum := sha256.Sum256(b)
	_, err := s.core.PutObject(ctx, s.bucket, name, bytes.NewReader(b), int64(len(b)), "", hex.EncodeToString(sum[:]), noStreamingSignature(putOptions))
	if err != nil {
		return s.putErr(ctx, err)
	}
	return nil
}

// Append implements Stager.
func (s *S3) Append(ctx context.Context, key string, st Stage, r io.Reader) (Stage, error) {
	name, err := s.name(key)
	if err != nil {
		return st, err
	}
	prefix, _ := s.stagePrefix(key)
	cur, err := parseS3Stage(st)
	if err != nil {
		return st, err
	}
	s.dropStaleTails(ctx, prefix, st, cur)
	bufp := s.parts.Get().(*[]byte)
	defer s.parts.Put(bufp)
	buf := *bufp
	next := cur
	next.Parts = append([]s3Part(nil), cur.Parts...)
	n := 0
	if cur.Tail > 0 {
		if err := s.readTail(ctx, tailName(prefix, st.Size), buf[:cur.Tail]); err != nil {
			return st, err
		}
		n = int(cur.Tail)
	}
	size := st.Size // staged bytes once buf[:n] is stored
	var rerr error
	for {
		m, eof, err := fill(ctx, r, buf[n:])
		n += m
		size += int64(m)
		if err != nil {
			rerr = err
			break
		}
		if eof {
			break
		}
		// A full buffer is a part.
		if err := s.stagePart(ctx, name, &next, buf[:n]); err != nil {
			return st, err
		}
		n = 0
	}
	// The rest: a part when S3 takes it as one, else the new tail. When the body broke off
	// (the client went away, which also ends ctx), what came in is stored all the same.
	next.Tail = 0
	switch {
	case n >= minPartSize:
		if err := s.stagePart(ctx, name, &next, buf[:n]); err != nil {
			return st, err
		}
	case n > 0:
		wctx, cancel := writeContext(ctx)
		defer cancel()
		if err := s.putSmall(wctx, tailName(prefix, size), buf[:n]); err != nil {
			return st, err
		}
		next.Tail = int64(n)
	}
	data, err := json.Marshal(next)
	if err != nil {
		return st, err
	}
	return Stage{Size: size, Data: data}, rerr
}

// dropStaleTails removes the tail objects that the recorded stage st does not use: those of
// earlier requests, and of requests that were never recorded. Best effort: RemoveStage removes
// whatever is left.
func (s *S3) dropStaleTails(ctx context.Context, prefix string, st Stage, cur s3Stage) {
	keep := ""
	if cur.Tail > 0 {
		keep = tailName(prefix, st.Size)
	}
	noOwner := false
	for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix + "tail-", FetchOwner: &noOwner}) {
		if obj.Err != nil {
			return
		}
		if obj.Key != keep {
			_ = s.core.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}
}

// readTail reads the tail object into buf, which has its size.
func (s *S3) readTail(ctx context.Context, name string, buf []byte) error {
	body, _, _, err := s.core.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		if s3Err(err) == ErrNotFound {
			return ErrStageLost
		}
		return s.putErr(ctx, err)
	}
	defer body.Close()
	if _, err := io.ReadFull(body, buf); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s3Err(err) == ErrNotFound {
			return ErrStageLost
		}
		return &StorageError{Err: fmt.Errorf("reading the staged tail: %w", err)}
	}
	return nil
}

// stagePart uploads b as the next part of the multipart upload, starting that upload first
// when there is none yet.
func (s *S3) stagePart(ctx context.Context, name string, st *s3Stage, b []byte) error {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if st.UploadID == "" {
		id, err := s.core.NewMultipartUpload(ctx, s.bucket, name, putOptions)
		if err != nil {
			return s.putErr(ctx, err)
		}
		st.UploadID = id
	}
	num := len(st.Parts) + 1
	sum := sha256.Sum256(b)
	p, err := s.core.PutObjectPart(ctx, s.bucket, name, st.UploadID, num, bytes.NewReader(b), int64(len(b)),
		minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), DisableContentSha256: true})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchUpload {
			return ErrStageLost
		}
		return s.putErr(ctx, err)
	}
	st.Parts = append(st.Parts, s3Part{N: num, ETag: p.ETag, Size: int64(len(b))})
	return nil
}

// writeContext is the context of a write of bytes that a request received: it goes on when
// the client goes away (its bytes are kept), bounded by abortTimeout.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
}

// Seal implements Stager.
func (s *S3) Seal(ctx context.Context, key string, st Stage) (bool, error) {
	name, err := s.name(key)
	if err != nil {
		return true, err
	}
	prefix, _ := s.stagePrefix(key)
	cur, err := parseS3Stage(st)
	if err != nil {
		return true, err
	}
	if len(cur.Parts) == 0 {
		// All of it is the tail (or nothing): a copy on the server. The staging area stays.
		if cur.Tail == 0 {
			return true, s.putSmall(ctx, name, nil)
		}
		_, err := s.core.CopyObject(ctx, s.bucket, tailName(prefix, st.Size), s.bucket, name, nil,
			minio.CopySrcOptions{Bucket: s.bucket, Object: tailName(prefix, st.Size)}, putOptions)
		if err != nil {
			if s3Err(err) == ErrNotFound {
				return false, ErrStageLost
			}
			return true, s.putErr(ctx, err)
		}
		return true, nil
	}
	parts := make([]minio.CompletePart, 0, len(cur.Parts)+1)
	for _, p := range cur.Parts {
		parts = append(parts, minio.CompletePart{PartNumber: p.N, ETag: p.ETag})
	}
	if cur.Tail > 0 {
		// The last part may be smaller than 5 MiB: the tail goes in as it is, copied on the
		// server.
		p, err := s.core.CopyObjectPart(ctx, s.bucket, tailName(prefix, st.Size), s.bucket, name, cur.UploadID,
			len(cur.Parts)+1, 0, cur.Tail, nil)
		if err != nil {
			return s.stillStaged(ctx, name, cur.UploadID), s.putErr(ctx, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, name, cur.UploadID, parts, putOptions); err != nil {
		return s.stillStaged(ctx, name, cur.UploadID), s.putErr(ctx, err)
	}
	return false, nil
}

// stillStaged reports whether the multipart upload is still there to be completed.
func (s *S3) stillStaged(ctx context.Context, name, uploadID string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	_, err := s.core.ListObjectParts(ctx, s.bucket, name, uploadID, 0, 1)
	return err == nil
}

// RemoveStage implements Stager: every multipart upload of the key's object is aborted, then
// the staging objects go, the marker last.
func (s *S3) RemoveStage(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	prefix, _ := s.stagePrefix(key)
	if err := s.abortUploads(ctx, name); err != nil {
		return err
	}
	noOwner := false
	for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, FetchOwner: &noOwner}) {
		if obj.Err != nil {
			return s3Err(obj.Err)
		}
		if obj.Key == prefix+stageMarker {
			continue
		}
		if err := s.core.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return s3Err(err)
		}
	}
	if err := s.core.RemoveObject(ctx, s.bucket, prefix+stageMarker, minio.RemoveObjectOptions{}); err != nil {
		return s3Err(err)
	}
	return nil
}

// abortUploads aborts the incomplete multipart uploads of exactly the object name.
func (s *S3) abortUploads(ctx context.Context, name string) error {
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, name, keyMarker, idMarker, "", 1000)
		if err != nil {
			return s3Err(err)
		}
		for _, u := range res.Uploads {
			if u.Key != name {
				continue
			}
			err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
			if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchUpload {
				return s3Err(err)
			}
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// WalkStages implements Stager: the staging areas by their markers.
func (s *S3) WalkStages(ctx context.Context, olderThan time.Time, fn func(key string) error) error {
	noOwner := false
	for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "t/", Recursive: true, FetchOwner: &noOwner}) {
		if obj.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s3Err(obj.Err)
		}
		rest, ok := strings.CutPrefix(obj.Key, s.prefix+"t/")
		key, ok2 := strings.CutSuffix(rest, "/"+stageMarker)
		if !ok || !ok2 || !ValidKey(key) || !obj.LastModified.Before(olderThan) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// staging reports whether the object name belongs to a staging area (its marker exists), so
// that SweepTemp leaves its multipart upload alone. On doubt it says yes: the upload is then
// left for a later sweep, or for RemoveStage.
func (s *S3) staging(ctx context.Context, name string) bool {
	key := s.keyOf(name)
	if key == "" {
		return false
	}
	prefix, _ := s.stagePrefix(key)
	_, err := s.core.StatObject(ctx, s.bucket, prefix+stageMarker, minio.StatObjectOptions{})
	return err == nil || s3Err(err) != ErrNotFound
}
