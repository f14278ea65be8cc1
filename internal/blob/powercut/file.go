package powercut

// An open file: reads, writes, truncation, and the sync that makes its data durable.

import (
	"io"
	"io/fs"
	"slices"
	"syscall"
	"time"
)

// file is an open file (or directory, for Sync).
type file struct {
	fs     *FS
	n      *inode
	name   string
	pos    int64
	append bool
}

func (fl *file) Name() string { return fl.name }

func (fl *file) Read(p []byte) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.alive("read", fl.name); err != nil {
		return 0, err
	}
	if fl.n.dir {
		return 0, &fs.PathError{Op: "read", Path: fl.name, Err: syscall.EISDIR}
	}
	if fl.pos >= int64(len(fl.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, fl.n.data[fl.pos:])
	fl.pos += int64(n)
	return n, nil
}

func (fl *file) Write(p []byte) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("write", fl.name); err != nil {
		return 0, err
	}
	if fl.append {
		fl.pos = int64(len(fl.n.data))
	}
	end := fl.pos + int64(len(p))
	if end > int64(len(fl.n.data)) {
		fl.n.data = append(fl.n.data, make([]byte, end-int64(len(fl.n.data)))...)
	}
	copy(fl.n.data[fl.pos:], p)
	fl.pos = end
	fl.n.mod = time.Now()
	return len(p), nil
}

func (fl *file) Seek(offset int64, whence int) (int64, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.alive("seek", fl.name); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += fl.pos
	case io.SeekEnd:
		offset += int64(len(fl.n.data))
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: fl.name, Err: syscall.EINVAL}
	}
	fl.pos = offset
	return offset, nil
}

func (fl *file) Truncate(size int64) error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("truncate", fl.name); err != nil {
		return err
	}
	if size <= int64(len(fl.n.data)) {
		fl.n.data = fl.n.data[:size:size]
	} else {
		fl.n.data = append(fl.n.data, make([]byte, size-int64(len(fl.n.data)))...)
	}
	fl.n.mod = time.Now()
	return nil
}

// Sync makes the file's data, or the directory's entries, durable.
func (fl *file) Sync() error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("sync", fl.name); err != nil {
		return err
	}
	if fl.n.dir {
		fl.n.syncedEntries = maps(fl.n.entries)
	} else {
		fl.n.synced = slices.Clone(fl.n.data)
	}
	return nil
}

func (fl *file) Close() error { return nil }
