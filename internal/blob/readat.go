package blob

import (
	"context"
	"io"
)

// SmallReader is a Store that reads a small range straight into a buffer, cheaper than Get
// for the many small files of chat traffic.
type SmallReader interface {
	// ReadAt reads len(p) bytes of the blob under key from off into p. A missing blob is
	// ErrNotFound; a blob shorter than asked is io.ErrUnexpectedEOF.
	ReadAt(ctx context.Context, key string, off int64, p []byte) error
}

// ReadAt reads len(p) bytes of the blob under key from off into p: through the store's
// SmallReader when it is one, else through Get.
func ReadAt(ctx context.Context, s Store, key string, off int64, p []byte) error {
	if sr, ok := s.(SmallReader); ok {
		return sr.ReadAt(ctx, key, off, p)
	}
	return readFull(ctx, s, key, off, p)
}

func readFull(ctx context.Context, s Store, key string, off int64, p []byte) error {
	r, err := s.Get(ctx, key, off, int64(len(p)))
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.ReadFull(r, p)
	return err
}

// ReadAt implements SmallReader: with plain system calls on the operating system's file
// system, through Get on another (the power-cut file system of the tests).
func (d *Disk) ReadAt(ctx context.Context, key string, off int64, p []byte) error {
	if _, ok := d.fs.(OSFS); !ok {
		return readFull(ctx, d, key, off, p)
	}
	path, err := d.path(key)
	if err != nil {
		return ErrNotFound
	}
	return preadFile(path, off, p)
}
