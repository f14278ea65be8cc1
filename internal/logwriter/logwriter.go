// Package logwriter gathers log lines and writes them in batches: under load the access log
// of every request would otherwise cost a write system call of its own on the request's path.
// While the writer runs, a line reaches the output within the flush interval; its Stop writes
// what is left.
package logwriter

import (
	"context"
	"io"
	"sync"
	"time"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
)

// maxBuffered is how much is gathered before the writer that passes it flushes at once.
const maxBuffered = 64 << 10

// Writer batches the writes of whole lines (a slog handler writes each record with one Write),
// keeping their order. It is a background worker: until Start and after Stop, writes go
// straight to the output.
type Writer struct {
	lifecycle.Runner
	// TestSignals are the points of the flushing loop that tests wait for (off unless Init).
	TestSignals TestSignals

	out   io.Writer
	every time.Duration

	wmu sync.Mutex // held while writing to out: one flush at a time, in order

	mu      sync.Mutex // guards what follows
	buf     []byte
	spare   []byte
	running bool

	kick chan struct{}
}

// TestSignals are the points of the flushing loop that a test can wait for.
type TestSignals struct {
	// Flushed is signalled after each write of gathered lines, with its length.
	Flushed testsignal.Signal[int]
}

// Init turns the signals on; call it before Start.
func (s *TestSignals) Init() { s.Flushed.Init() }

// New returns a Writer to out that, once started, writes what it gathered at most every
// interval later.
func New(out io.Writer, every time.Duration) *Writer {
	return &Writer{Runner: lifecycle.Runner{Name: "log writer"}, out: out, every: every, kick: make(chan struct{}, 1)}
}

// Start gathers lines and writes them in the background until Stop or the end of ctx; Stop
// returns once what was gathered is written.
func (w *Writer) Start(ctx context.Context) error {
	return w.Runner.Start(ctx, func(ctx context.Context, g *lifecycle.Group) error {
		w.mu.Lock()
		w.running = true
		w.mu.Unlock()
		g.Go(w.loop)
		return nil
	})
}

// Write gathers p. A failed write to the output is not reported (there is nowhere to log it).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		w.wmu.Lock()
		defer w.wmu.Unlock()
		w.flushLocked() // what was gathered before a stop goes first
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
	w.flushLocked()
}

// flushLocked is flush, with wmu held.
func (w *Writer) flushLocked() {
	w.mu.Lock()
	out := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(out) == 0 {
		return
	}
	_, _ = w.out.Write(out)
	w.mu.Lock()
	w.spare = out[:0]
	w.mu.Unlock()
	w.TestSignals.Flushed.Signal(len(out))
}

func (w *Writer) loop(ctx context.Context) {
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
		w.flush()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		t := time.NewTimer(w.every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		w.flush()
	}
}
