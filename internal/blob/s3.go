package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

const (
	// DefaultPartSize is the part size of multipart uploads: S3 allows 10,000 parts, so
	// 8 MiB parts carry objects up to 78 GiB, far above any sensible upload limit.
	DefaultPartSize = 8 << 20
	// DefaultPartBuffers is how many part buffers one upload may hold: one being filled from
	// the client while the other uploads.
	DefaultPartBuffers = 2
	// minPartSize is S3's smallest part but the last.
	minPartSize = 5 << 20
	// headSize is what an upload reads before it commits to a part buffer: content that fits
	// goes up in one PUT, and a burst of small uploads does not pin a part buffer each.
	headSize = 256 << 10
	// abortTimeout bounds the clean-up of a failed upload, which runs after its context ended.
	abortTimeout = 30 * time.Second
	// checkTimeout bounds a readiness check, which would otherwise retry for seconds.
	checkTimeout = 3 * time.Second
)

// S3Options configure an S3 store.
type S3Options struct {
	// Endpoint is the service's URL, e.g. http://127.0.0.1:9000; empty means AWS.
	Endpoint string
	// Region of the bucket; us-east-1 when empty.
	Region string
	// Bucket holds the blobs. It is created when missing and the credentials allow it.
	Bucket string
	// Prefix is put before every key: "fileshare/" stores u/xx/uuid as fileshare/u/xx/uuid.
	Prefix string
	// PathStyle addresses the bucket in the path (MinIO, Ceph) rather than in the host name.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when set, replace the credential chain: the
	// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables, then
	// ~/.aws/credentials (AWS_PROFILE), then an ECS task, web-identity or EC2 instance role.
	AccessKeyID, SecretAccessKey string
	// PartSize is the size of a multipart upload's parts, and of each buffer an upload holds;
	// at least 5 MiB. DefaultPartSize when 0.
	PartSize int
	// PartBuffers is how many part buffers one upload may hold, so an upload holds at most
	// PartSize*PartBuffers bytes. DefaultPartBuffers when 0.
	PartBuffers int
}

// S3 stores blobs as objects of one bucket of an S3-compatible service, under
// <prefix><key>. An object exists only once it is complete: small blobs go up in one PUT,
// larger ones in a multipart upload that is completed only when all of the content is in
// (aborted on any error), so the object never holds part of a blob.
type S3 struct {
	core     minio.Core
	bucket   string
	prefix   string
	where    string // for messages: bucket "b" at endpoint
	partSize int
	buffers  int
	parts    sync.Pool // *[]byte of partSize
	heads    sync.Pool // *[]byte of headSize
}

// NewS3 connects to the bucket, creating it when it is missing and the credentials allow
// it. It fails when the bucket cannot be reached.
func NewS3(ctx context.Context, opt S3Options) (*S3, error) {
	if err := s3utils.CheckValidBucketName(opt.Bucket); err != nil {
		return nil, fmt.Errorf("s3 bucket %q: %w", opt.Bucket, err)
	}
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.PartSize == 0 {
		opt.PartSize = DefaultPartSize
	}
	if opt.PartBuffers == 0 {
		opt.PartBuffers = DefaultPartBuffers
	}
	if opt.PartSize < minPartSize || opt.PartBuffers < 1 {
		return nil, fmt.Errorf("s3: part size must be at least %d bytes and part buffers at least 1", minPartSize)
	}
	host, secure := "s3.amazonaws.com", true
	where := fmt.Sprintf("s3 bucket %q", opt.Bucket)
	if opt.Endpoint != "" {
		u, err := url.Parse(opt.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint %q is not an http(s) URL", opt.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
		where += " at " + u.Scheme + "://" + u.Host
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport, Timeout: 10 * time.Second}},
	})
	if opt.AccessKeyID != "" {
		creds = credentials.NewStaticV4(opt.AccessKeyID, opt.SecretAccessKey, "")
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	// Many downloads and uploads run at once against one host: keep their connections.
	tr.MaxIdleConnsPerHost = 128
	lookup := minio.BucketLookupAuto
	switch {
	case opt.PathStyle:
		lookup = minio.BucketLookupPath
	case opt.Endpoint != "":
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Transport: tr, Region: opt.Region, BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	prefix := opt.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	s := &S3{
		core: minio.Core{Client: client}, bucket: opt.Bucket, prefix: prefix, where: where,
		partSize: opt.PartSize, buffers: opt.PartBuffers,
	}
	s.parts.New = func() any { b := make([]byte, s.partSize); return &b }
	s.heads.New = func() any { b := make([]byte, headSize); return &b }
	if err := s.ensureBucket(ctx, opt.Region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("%s cannot be reached: %w", s.where, err)
	}
	if ok {
		return nil
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err != nil {
		// Several instances starting at once race to create it; any of them winning is fine.
		if code := minio.ToErrorResponse(err).Code; code == minio.BucketAlreadyOwnedByYou || code == minio.BucketAlreadyExists {
			if ok, _ := s.core.BucketExists(ctx, s.bucket); ok {
				return nil
			}
		}
		return fmt.Errorf("%s does not exist and cannot be created: %w", s.where, err)
	}
	return nil
}

func (s *S3) name(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return s.prefix + key, nil
}

// keyOf is the blob key of an object name, or "" for an object that is not a blob of ours.
func (s *S3) keyOf(name string) string {
	key, ok := strings.CutPrefix(name, s.prefix)
	if !ok || !ValidKey(key) {
		return ""
	}
	return key
}

// s3Err classifies an error of the service.
func s3Err(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey:
		return ErrNotFound
	case resp.Code == "XMinioStorageFull" || resp.StatusCode == http.StatusInsufficientStorage:
		return &StorageError{Err: fmt.Errorf("%w: %w", ErrInsufficientStorage, err)}
	}
	return &StorageError{Err: err}
}

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

// Open implements Store. It costs no request: the content is fetched by the first Read (or
// Fetch), with a Range of what is wanted.
func (s *S3) Open(ctx context.Context, key string, size int64) (Object, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, ErrNotFound
	}
	ctx, cancel := context.WithCancel(ctx)
	return &s3Object{ctx: ctx, cancel: cancel, s: s, name: name, size: size}, nil
}

// s3Object reads an object through GET requests with a Range: Seek only moves the offset, and
// a Read at an offset the open response is not at starts a new one. Close may come while a
// Read is blocked in another goroutine (http.ServeContent reads multi-range answers in one):
// it cancels the request first, then waits for the Read to let go.
type s3Object struct {
	ctx    context.Context
	cancel context.CancelFunc
	s      *S3
	name   string
	size   int64

	mu   sync.Mutex
	off  int64         // offset of the next Read
	body io.ReadCloser // the open response, at offset pos, delivering up to end
	pos  int64
	end  int64
}

func (o *s3Object) Size() int64 { return o.size }

// Fetch implements Fetcher: it requests the next n bytes, unless the open response has them.
func (o *s3Object) Fetch(n int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= 0 || o.off >= o.size {
		return nil
	}
	end := min(o.off+n, o.size)
	if o.body != nil && o.pos == o.off && o.end >= end {
		return nil
	}
	return o.open(end)
}

func (o *s3Object) open(end int64) error {
	o.closeBody()
	var opts minio.GetObjectOptions
	if o.off > 0 || end < o.size {
		if err := opts.SetRange(o.off, end-1); err != nil {
			return err
		}
	}
	body, _, _, err := o.s.core.GetObject(o.ctx, o.s.bucket, o.name, opts)
	if err != nil {
		if o.ctx.Err() != nil {
			return o.ctx.Err()
		}
		return s3Err(err)
	}
	o.body, o.pos, o.end = body, o.off, end
	return nil
}

func (o *s3Object) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.body == nil || o.pos != o.off || o.pos >= o.end {
		if err := o.open(o.size); err != nil {
			return 0, err
		}
	}
	if rest := o.end - o.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	o.pos += int64(n)
	switch {
	case err == io.EOF && o.pos < o.end:
		// The response ended early: the connection broke, or the object is not the size its
		// row says. Either way the download must not look complete.
		o.closeBody()
		return n, io.ErrUnexpectedEOF
	case err == io.EOF || (err == nil && o.pos >= o.end):
		// This response is done; a later Read past it opens the next one.
		o.closeBody()
		if o.off >= o.size {
			return n, io.EOF
		}
		return n, nil
	}
	return n, err
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, errors.New("s3 object: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("s3 object: negative position")
	}
	o.off = offset
	return offset, nil
}

func (o *s3Object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

func (o *s3Object) Close() error {
	o.cancel()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeBody()
	return nil
}

// Delete implements Store. S3 answers a missing key like a deleted one.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.core.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return s3Err(err)
	}
	return nil
}

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
			if s.keyOf(u.Key) == "" || !u.Initiated.Before(olderThan) {
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

// Check implements Store: the bucket must answer.
func (s *S3) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("%s cannot be reached: %w", s.where, err)
	}
	if !ok {
		return fmt.Errorf("%s does not exist", s.where)
	}
	return nil
}
