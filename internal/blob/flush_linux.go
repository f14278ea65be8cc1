package blob

import (
	"os"

	"golang.org/x/sys/unix"
)

// flushChunk is how much is written before its write-back to disk is started.
const flushChunk = 8 << 20

// flusher overlaps the flushing of an upload with its receiving: every flushChunk bytes it asks
// the kernel to start writing that range back (sync_file_range), and waits for the range before
// it, so that the final fsync finds little left to do and dirty pages stay bounded.
type flusher struct {
	fd      int
	started int64 // bytes whose write-back has been started
}

// newFlusher returns a flusher of f; one of a file that is not the operating system's does
// nothing (the final fsync flushes everything).
func newFlusher(f File) *flusher {
	of, ok := f.(*os.File)
	if !ok {
		return &flusher{fd: -1}
	}
	return &flusher{fd: int(of.Fd())}
}

// from makes the flusher start at offset off of the file (an append), flushing from there.
func (fl *flusher) from(off int64) { fl.started = off }

func (fl *flusher) wrote(total int64) {
	if fl.fd < 0 {
		return
	}
	for total-fl.started >= flushChunk {
		off := fl.started
		// Start write-back of the new chunk without waiting…
		unix.SyncFileRange(fl.fd, off, flushChunk, unix.SYNC_FILE_RANGE_WRITE)
		// …and wait for the chunk before it, which has had a chunk's time to get there.
		if off >= flushChunk {
			unix.SyncFileRange(fl.fd, off-flushChunk, flushChunk,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}
		fl.started += flushChunk
	}
}
