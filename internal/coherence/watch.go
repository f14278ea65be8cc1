package coherence

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// Watcher lets a process that keeps no cache (an operator's command) wait, like a serving
// instance does, until the instances have heard of its changes.
type Watcher struct {
	b      *Bus
	l      *store.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// Watch listens for acknowledgements until Close.
func Watch(ctx context.Context, st *store.Store) (*Watcher, error) {
	l, err := st.Listen(ctx, Channel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watcher{b: New(st, slog.New(slog.DiscardHandler), Options{}), l: l, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			n, err := l.Wait(ctx)
			if err != nil {
				if !errors.Is(err, store.ErrNoNotification) || ctx.Err() != nil {
					return
				}
				continue
			}
			// Only acknowledgements: a watcher has no session, so it acknowledges nothing.
			if strings.HasPrefix(n.Payload, "ack ") {
				_ = w.b.handle(ctx, l, uuid.Nil, n.Payload)
			}
		}
	}()
	return w, nil
}

// Begin starts a change, as Bus.Begin.
func (w *Watcher) Begin() *Change { return w.b.Begin() }

// Close stops listening.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
	w.l.Close()
}
