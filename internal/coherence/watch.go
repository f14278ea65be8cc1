package coherence

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"fileshare/internal/lifecycle"
	"fileshare/internal/store"
)

// Watcher lets a process that keeps no cache (an operator's command) wait, like a serving
// instance does, until the instances have heard of its changes.
type Watcher struct {
	runner lifecycle.Runner
	b      *Bus
}

// Watch listens for acknowledgements, in the background, until Close (not until the end of
// ctx, which bounds the connection only: a change may still wait for its acknowledgements).
func Watch(ctx context.Context, st *store.Store) (*Watcher, error) {
	l, err := st.Listen(ctx, Channel)
	if err != nil {
		return nil, err
	}
	w := &Watcher{runner: lifecycle.Runner{Name: "coherence watcher"}, b: New(st, slog.New(slog.DiscardHandler), Options{})}
	// The setup cannot fail: the connection is open.
	_ = w.runner.Start(context.WithoutCancel(ctx), func(ctx context.Context, g *lifecycle.Group) error {
		g.Go(func(ctx context.Context) {
			defer l.Close()
			w.listen(ctx, l)
		})
		return nil
	})
	return w, nil
}

func (w *Watcher) listen(ctx context.Context, l *store.Listener) {
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
}

// Begin starts a change, as Bus.Begin.
func (w *Watcher) Begin() *Change { return w.b.Begin() }

// Close stops listening, and returns once the connection is closed.
func (w *Watcher) Close() { w.runner.Stop() }
