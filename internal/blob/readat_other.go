//go:build !unix

package blob

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

func preadFile(path string, off int64, p []byte) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadAt(p, off)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
