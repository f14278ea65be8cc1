// Package logwriter gathers log lines and writes them in batches: under load the access log
// of every request would otherwise cost a write system call of its own on the request's path.
// A line reaches the output within the flush interval; Close writes what is left.
package logwriter

import (
	"io"
	"sync"
	"time"
)

// maxBuffered is how much is gathered before the writer that passes it flushes at once.
const maxBuffered = 64 << 10

// Writer batches the writes of whole lines (a slog handler writes each record with one Write),
// keeping their order.
type Writer struct {
	out   io.Writer
	every time.Duration

	wmu sync.Mutex // held while writing to out: one flush at a time, in order

	mu     sync.Mutex // guards what follows
	buf    []byte
	spare  []byte
	err    error
	closed bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New returns a Writer to out that writes what it gathered at most every interval later.
func New(out io.Writer, every time.Duration) *Writer {
	w := &Writer{out: out, every: every, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Write gathers p. A failed flush is not reported here; Close returns the first such error.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= maxBuffered
	w.mu.Unlock()
	if full {
		w.flush()
		return len(p), nil
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flush writes what is gathered, outside the lock that Write takes.
func (w *Writer) flush() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	out := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(out) == 0 {
		return
	}
	_, err := w.out.Write(out)
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.spare = out[:0]
	w.mu.Unlock()
}

func (w *Writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		}
		select {
		case <-w.stop:
			return
		case <-time.After(w.every):
		}
		w.flush()
	}
}

// Close writes what is gathered; later writes go straight to the output.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
