// Package blob stores file contents outside the database. A Store only ever exposes complete
// blobs: Put makes a blob visible under its key only after all of it is durable.
package blob

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"
)

var (
	// ErrNotFound is returned by Open for a key that holds no blob.
	ErrNotFound = errors.New("blob not found")
	// ErrInsufficientStorage is returned by Put when the storage is full.
	ErrInsufficientStorage = errors.New("insufficient storage")
)

// StorageError is a failure of the storage itself, as opposed to the reader Put was given.
type StorageError struct{ Err error }

func (e *StorageError) Error() string { return "blob storage: " + e.Err.Error() }

func (e *StorageError) Unwrap() error { return e.Err }

// Is makes a full disk or exhausted quota match ErrInsufficientStorage.
func (e *StorageError) Is(target error) bool {
	return target == ErrInsufficientStorage && (errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT))
}

// Info describes a stored blob.
type Info struct {
	Size   int64
	SHA256 [32]byte
}

// Store is where blobs live. Keys are chosen by the server (see NewKey), never by a client.
type Store interface {
	// Put streams r into a new blob under key, computing its size and SHA-256 on the way, and
	// returns only once the blob is durable. Only io.EOF from r ends the content: any other
	// error of r (a body cut short reports io.ErrUnexpectedEOF) fails the Put. On error
	// nothing is left behind.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Get opens length bytes of the blob under key, from offset off, for reading; off+length
	// must not pass the size recorded when the blob was stored. A missing blob is ErrNotFound,
	// reported here rather than by the first Read. The reader stays valid if the blob is
	// deleted meanwhile. Close releases it.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Delete removes the blob under key; a missing blob is not an error.
	Delete(ctx context.Context, key string) error
	// Walk calls fn for every blob last modified before olderThan, for the orphan sweep.
	Walk(ctx context.Context, olderThan time.Time, fn func(key string) error) error
	// SweepTemp removes leftovers of interrupted uploads older than olderThan and returns how
	// many it removed.
	SweepTemp(ctx context.Context, olderThan time.Time) (int, error)
	// Check reports whether the store is usable (for readiness).
	Check(ctx context.Context) error
	// Stager receives a blob over many requests (resumable uploads).
	Stager
}

// exactReader reads exactly left bytes of r: an r that ends before is io.ErrUnexpectedEOF (a
// connection broke, or the blob is not the size its row says), so a download never looks
// complete when it is not.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		err = io.ErrUnexpectedEOF
	case err == nil && e.left == 0:
		err = io.EOF
	}
	return n, err
}
