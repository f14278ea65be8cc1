//go:build unix

package blob

import (
	"errors"
	"io"
	"syscall"
)

// preadFile reads len(p) bytes of the file at path from off with plain system calls: no
// *os.File, whose set-up (a poller registration that regular files refuse, a finalizer) costs
// more than the read itself for a small file.
func preadFile(path string, off int64, p []byte) error {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if errors.Is(err, syscall.ENOENT) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	for len(p) > 0 {
		n, err := syscall.Pread(fd, p, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}
