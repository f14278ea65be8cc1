package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fileshare/internal/failpoint"
)

const (
	blobsDir = "blobs"
	tempDir  = "tmp"
	// copyBuffer is large enough that one upload costs few system calls, small enough that
	// many concurrent uploads stay cheap in memory.
	copyBuffer = 256 << 10
	// uploadPrefix starts the names of uploads in progress (never a valid key).
	uploadPrefix = ".upload-"
)

// copyBuffers are reused across uploads: a fresh 256 KiB buffer per upload, zeroed by the
// runtime, is most of the cost of a small upload.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

// Disk stores blobs as files below a directory:
//
//	<root>/blobs/<key>                   complete blobs
//	<root>/blobs/<kind>/<xx>/.upload-*   uploads in progress, renamed to their key once durable
//	<root>/tmp/                          staging areas of resumable uploads
//
// An upload in progress lives in the directory of its blob: the rename that makes it a blob
// then stays within one directory, which the kernel does far more cheaply under concurrency
// than a rename between directories (one directory lock instead of two and the file system's
// rename lock), and new files spread over many directories instead of one.
type Disk struct {
	root string
	fs   FS
}

// NewDisk creates the directory layout below root and returns a Disk store.
func NewDisk(root string) (*Disk, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return NewDiskFS(abs, OSFS{})
}

// NewDiskFS is NewDisk on the file system fsys, root being an absolute path of it.
func NewDiskFS(root string, fsys FS) (*Disk, error) {
	for _, d := range []string{blobsDir, tempDir} {
		if err := mkdirAll(fsys, filepath.Join(root, d)); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	return &Disk{root: root, fs: fsys}, nil
}

// path maps a key to its file. Keys are made by the server, but a key that could step outside
// the blobs directory is refused all the same.
func (d *Disk) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(d.root, blobsDir, filepath.FromSlash(key)), nil
}

// Put implements Store: temp file, fsync, rename, fsync of the directory.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader) (info Info, err error) {
	dst, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	dir := filepath.Dir(dst)
	if err := mkdirAll(d.fs, dir); err != nil {
		return Info{}, storageErr(err)
	}
	f, err := d.fs.CreateTemp(dir, uploadPrefix+"*")
	if err != nil {
		return Info{}, storageErr(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			d.fs.Remove(f.Name())
		}
	}()
	h := sha256.New()
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	flush := newFlusher(f)
	for {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		// Fill the buffer before writing: multipart parts arrive in small reads, and one
		// write and one hash call per full buffer keeps the system calls few.
		n, rerr := fillBuffer(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := f.Write(buf[:n]); werr != nil {
				return Info{}, storageErr(werr)
			}
			info.Size += int64(n)
			flush.wrote(info.Size)
			failpoint.Hit("blob.write")
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Info{}, rerr
		}
	}
	copy(info.SHA256[:], h.Sum(nil))
	failpoint.Hit("blob.before-fsync")
	if err := f.Sync(); err != nil {
		return Info{}, storageErr(err)
	}
	failpoint.Hit("blob.after-fsync")
	if err := f.Close(); err != nil {
		return Info{}, storageErr(err)
	}
	if err := d.fs.Rename(f.Name(), dst); err != nil {
		return Info{}, storageErr(err)
	}
	failpoint.Hit("blob.after-rename")
	if err := syncDir(d.fs, dir); err != nil {
		d.fs.Remove(dst)
		return Info{}, storageErr(err)
	}
	failpoint.Hit("blob.after-dirsync")
	return info, nil
}

func storageErr(err error) error {
	return &StorageError{Err: err}
}

// Get implements Store. The range is read from an open file, so a download goes on if the
// blob is deleted meanwhile.
func (d *Disk) Get(_ context.Context, key string, off, length int64) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, ErrNotFound
	}
	f, err := d.fs.OpenFile(p, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &fileRange{exactReader: exactReader{r: f, left: length}, f: f}, nil
}

// sendStep is how much of a file range goes to a connection in one step: each step is one
// zero-copy transfer, and between steps the sender may renew its write deadline.
const sendStep = 256 << 10

// fileRange is a range of an open file.
type fileRange struct {
	exactReader
	f File
}

// WriteTo sends the range to w in steps of sendStep, each handed to w's ReadFrom as a limited
// reader of the file itself when w has one: a network connection then sends it with the
// kernel's zero-copy path (sendfile).
func (r *fileRange) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.left > 0 {
		step := &io.LimitedReader{R: r.f, N: min(r.left, sendStep)}
		n, err := io.Copy(w, step)
		total += n
		r.left -= n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrUnexpectedEOF
		}
	}
	return total, nil
}

func (r *fileRange) Close() error { return r.f.Close() }

// Delete implements Store.
func (d *Disk) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := d.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk implements Store.
func (d *Disk) Walk(ctx context.Context, olderThan time.Time, fn func(key string) error) error {
	return d.walkDir(ctx, filepath.Join(d.root, blobsDir), "", olderThan, fn)
}

// walkDir walks directory dir, whose files have keys rel/<name>, depth first in name order.
func (d *Disk) walkDir(ctx context.Context, dir, rel string, olderThan time.Time, fn func(key string) error) error {
	entries, err := d.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := path.Join(rel, e.Name())
		if e.IsDir() {
			if err := d.walkDir(ctx, filepath.Join(dir, e.Name()), key, olderThan, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if !fi.ModTime().Before(olderThan) || !ValidKey(key) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return nil
}

// SweepTemp implements Store: uploads in progress left in the blob directories, and files
// left in tmp/ by earlier versions.
func (d *Disk) SweepTemp(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := d.sweepDir(ctx, filepath.Join(d.root, tempDir), "upload-", olderThan)
	if err != nil {
		return n, err
	}
	kinds, err := d.fs.ReadDir(filepath.Join(d.root, blobsDir))
	if err != nil {
		return n, err
	}
	for _, k := range kinds {
		if !k.IsDir() {
			continue
		}
		shards, err := d.fs.ReadDir(filepath.Join(d.root, blobsDir, k.Name()))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return n, err
		}
		for _, sh := range shards {
			if !sh.IsDir() {
				continue
			}
			m, err := d.sweepDir(ctx, filepath.Join(d.root, blobsDir, k.Name(), sh.Name()), uploadPrefix, olderThan)
			n += m
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sweepDir removes the files of dir named with prefix and last modified before olderThan.
func (d *Disk) sweepDir(ctx context.Context, dir, prefix string, olderThan time.Time) (int, error) {
	entries, err := d.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(olderThan) {
			continue
		}
		if err := d.fs.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// Check implements Store: the data directory must accept a new file.
func (d *Disk) Check(_ context.Context) error {
	f, err := d.fs.CreateTemp(filepath.Join(d.root, tempDir), "ready-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return d.fs.Remove(name)
}

// fillBuffer reads r until buf is full, r ends (io.EOF) or r fails. Unlike io.ReadFull it
// keeps r's own error: a reader that ends early with io.ErrUnexpectedEOF (a body shorter than
// its Content-Length) must fail the Put, not end the content.
func fillBuffer(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
