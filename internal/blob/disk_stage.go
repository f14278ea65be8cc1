package blob

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fileshare/internal/failpoint"
)

// On disk a staging area is one file, <root>/tmp/tus-<kind>-<uuid>, whose first Stage.Size
// bytes are the bytes received. Append truncates it to that size, writes after it and fsyncs;
// Seal hard-links it into blobs/ (so that a failed commit leaves it intact), and the caller
// removes it once the blob's row is committed. SweepTemp leaves these files alone: they live as
// long as their upload, and WalkStages lists them for the sweep of those no upload names.

const stagePrefix = "tus-"

func (d *Disk) stagePath(key string) (string, error) {
	if !ValidKey(key) {
		return "", errors.New("invalid blob key")
	}
	return filepath.Join(d.root, tempDir, stagePrefix+stageID(key)), nil
}

// CreateStage implements Stager: an empty file, its directory entry made durable.
func (d *Disk) CreateStage(_ context.Context, key string) (Stage, error) {
	p, err := d.stagePath(key)
	if err != nil {
		return Stage{}, err
	}
	f, err := d.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return Stage{}, storageErr(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		d.fs.Remove(p)
		return Stage{}, storageErr(err)
	}
	if err := f.Close(); err != nil {
		d.fs.Remove(p)
		return Stage{}, storageErr(err)
	}
	if err := syncDir(d.fs, filepath.Dir(p)); err != nil {
		d.fs.Remove(p)
		return Stage{}, storageErr(err)
	}
	return Stage{}, nil
}

// Append implements Stager.
func (d *Disk) Append(ctx context.Context, key string, st Stage, r io.Reader) (Stage, error) {
	p, err := d.stagePath(key)
	if err != nil {
		return st, err
	}
	f, err := d.fs.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return st, ErrStageLost
	}
	if err != nil {
		return st, storageErr(err)
	}
	defer f.Close()
	// Bytes beyond st.Size were written by an append that was never recorded (it failed, or
	// its instance died before it could record them): they are not part of the upload.
	if err := f.Truncate(st.Size); err != nil {
		return st, storageErr(err)
	}
	if _, err := f.Seek(st.Size, io.SeekStart); err != nil {
		return st, storageErr(err)
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	flush := newFlusher(f)
	flush.from(st.Size)
	size := st.Size
	var rerr error
	for rerr == nil {
		if err := ctx.Err(); err != nil {
			// Keep what came in: the client may resume from there.
			rerr = err
			break
		}
		var n int
		n, rerr = fillBuffer(r, buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return st, storageErr(werr)
			}
			size += int64(n)
			flush.wrote(size)
			failpoint.Hit("stage.write")
		}
	}
	if rerr == io.EOF {
		rerr = nil
	}
	failpoint.Hit("stage.before-fsync")
	if err := f.Sync(); err != nil {
		return st, storageErr(err)
	}
	failpoint.Hit("stage.after-fsync")
	return Stage{Size: size}, rerr
}

// Seal implements Stager: a hard link to the staging file, so the staging area stays whole
// until the caller removes it after the commit.
func (d *Disk) Seal(_ context.Context, key string, st Stage) (bool, error) {
	sp, err := d.stagePath(key)
	if err != nil {
		return true, err
	}
	dst, err := d.path(key)
	if err != nil {
		return true, err
	}
	fi, err := d.fs.Stat(sp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, ErrStageLost
	}
	if err != nil {
		return true, storageErr(err)
	}
	if fi.Size() != st.Size {
		if err := d.truncateSync(sp, st.Size); err != nil {
			return true, storageErr(err)
		}
	}
	dir := filepath.Dir(dst)
	if err := mkdirAll(d.fs, dir); err != nil {
		return true, storageErr(err)
	}
	// A blob left by an earlier Seal whose commit failed.
	if err := d.fs.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, storageErr(err)
	}
	if err := d.fs.Link(sp, dst); err != nil {
		return true, storageErr(err)
	}
	failpoint.Hit("stage.after-link")
	if err := syncDir(d.fs, dir); err != nil {
		d.fs.Remove(dst)
		return true, storageErr(err)
	}
	return true, nil
}

func (d *Disk) truncateSync(p string, size int64) error {
	f, err := d.fs.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// RemoveStage implements Stager.
func (d *Disk) RemoveStage(_ context.Context, key string) error {
	p, err := d.stagePath(key)
	if err != nil {
		return err
	}
	if err := d.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageErr(err)
	}
	return nil
}

// WalkStages implements Stager.
func (d *Disk) WalkStages(ctx context.Context, olderThan time.Time, fn func(key string) error) error {
	entries, err := d.fs.ReadDir(filepath.Join(d.root, tempDir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, ok := strings.CutPrefix(e.Name(), stagePrefix)
		key := keyOfStage(id)
		if !ok || key == "" {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(olderThan) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return nil
}
