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

// ReadAt implements SmallReader.
func (d *Disk) ReadAt(ctx context.Context, key string, off int64, p []byte) error {
	if _, ok := d.fs.(OSFS); ok {
		path, err := d.path(key)
		if err != nil {
			return ErrNotFound
		}
		return preadFile(path, off, p)
	}
	r, err := d.Get(ctx, key, off, int64(len(p)))
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.ReadFull(r, p)
	return err
}
