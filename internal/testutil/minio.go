package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"fileshare/internal/blob"
	"fileshare/internal/config"
)

// MinIOModule is the MinIO server the tests run against; `make minio` installs this one.
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIO is a MinIO server on loopback with its data in a temp directory, one per test binary.
type MinIO struct {
	// Endpoint is its URL, e.g. http://127.0.0.1:41234.
	Endpoint  string
	AccessKey string
	SecretKey string

	dir string
	*child
}

var (
	minioOnce sync.Once
	minioMu   sync.Mutex
	minioSrv  *MinIO
	minioErr  error
)

// StartMinIO returns the test binary's MinIO server, starting it on first use. A package whose
// tests use it calls StopMinIO from TestMain after m.Run; should the test binary die first,
// the kernel kills the server with it (parent-death signal).
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	minioOnce.Do(func() {
		m, err := startMinIO()
		minioMu.Lock()
		minioSrv, minioErr = m, err
		minioMu.Unlock()
	})
	minioMu.Lock()
	defer minioMu.Unlock()
	if minioErr != nil {
		t.Fatalf("minio: %v", minioErr)
	}
	if minioSrv == nil {
		t.Fatal("minio: already stopped")
	}
	return minioSrv
}

// StopMinIO stops the test binary's MinIO server, if one was started, and removes its data.
func StopMinIO() {
	minioMu.Lock()
	m := minioSrv
	minioSrv = nil
	minioMu.Unlock()
	if m != nil {
		m.terminate()
	}
}

// minioBinary finds the server: where `go install` (make minio) puts it, else in PATH.
func minioBinary() (string, error) {
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			if lines[0] != "" {
				dirs = append(dirs, lines[0])
			}
			for _, gp := range filepath.SplitList(lines[1]) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "minio")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the minio server binary is neither in %s nor in PATH: run `make minio` (go install %s; the first build takes several minutes)",
		strings.Join(dirs, ", "), MinIOModule)
}

func startMinIO() (*MinIO, error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	// The free port is found by binding and releasing it, so another process may take it
	// before MinIO does: try again on another one.
	for attempt := 0; attempt < 3; attempt++ {
		m, err := tryStartMinIO(bin)
		if err == nil {
			return m, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tryStartMinIO(bin string) (*MinIO, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fileshare-minio-")
	if err != nil {
		return nil, err
	}
	m := &MinIO{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "fileshare-test",
		SecretKey: randomHex(16),
		dir:       dir,
	}
	cmd := exec.Command(bin, "server", "--quiet",
		"--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console),
		"--certs-dir", filepath.Join(dir, "certs"),
		filepath.Join(dir, "data"))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	if m.child, err = startChild(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		if m.exited() {
			m.terminate()
			return nil, fmt.Errorf("minio exited at start: %s", strings.TrimSpace(m.logs.String()))
		}
		if time.Now().After(deadline) {
			m.terminate()
			return nil, fmt.Errorf("minio did not become ready within 60s: %s", strings.TrimSpace(m.logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate stops the server (SIGTERM, then SIGKILL) and removes its directory.
func (m *MinIO) terminate() {
	m.child.terminate(syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(m.dir)
}

// NewBucketName returns a bucket name no test used before; the store that uses it creates it.
func NewBucketName() string {
	return "test-" + randomHex(8)
}

// S3Options are the options of an S3 store on this server.
func (m *MinIO) S3Options(bucket, prefix string) blob.S3Options {
	return blob.S3Options{
		Endpoint: m.Endpoint, Bucket: bucket, Prefix: prefix, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
	}
}

// Client is an S3 client of this server, for tests to look into buckets.
func (m *MinIO) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(m.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Objects lists the names of the objects in bucket.
func (m *MinIO) Objects(t testing.TB, bucket string) []string {
	t.Helper()
	var names []string
	for obj := range m.Client(t).ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list %s: %v", bucket, obj.Err)
		}
		names = append(names, obj.Key)
	}
	return names
}

// IncompleteUploads lists the object names of the multipart uploads in progress in bucket.
func (m *MinIO) IncompleteUploads(t testing.TB, bucket string) []string {
	t.Helper()
	res, err := minio.Core{Client: m.Client(t)}.ListMultipartUploads(context.Background(), bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatalf("list uploads of %s: %v", bucket, err)
	}
	var names []string
	for _, u := range res.Uploads {
		names = append(names, u.Key)
	}
	return names
}

// WithS3 configures an Env for blobs in bucket (created when missing) of this server.
func (m *MinIO) WithS3(bucket string) Option {
	return func(c *config.Config) {
		c.BlobStore = "s3"
		c.S3Endpoint = m.Endpoint
		c.S3Region = "us-east-1"
		c.S3Bucket = bucket
		c.S3PathStyle = true
		c.S3Credentials = &config.S3Credentials{AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}
	}
}

// Env is the environment for a `fileshare serve` process using bucket of this server.
func (m *MinIO) Env(bucket string) []string {
	return []string{
		"FILESHARE_BLOB_STORE=s3", "FILESHARE_S3_ENDPOINT=" + m.Endpoint, "FILESHARE_S3_BUCKET=" + bucket,
		"FILESHARE_S3_PATH_STYLE=true", "AWS_ACCESS_KEY_ID=" + m.AccessKey, "AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
	}
}
