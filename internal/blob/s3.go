package blob

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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
