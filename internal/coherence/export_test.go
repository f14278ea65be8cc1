package coherence

import (
	"github.com/google/uuid"

	"fileshare/internal/lifecycle"
)

// ListenOn makes b's sessions listen on channel instead of Channel: deaf to their own
// heartbeats, as behind a pooler that drops notifications.
func ListenOn(b *Bus, channel string) { b.listen = channel }

// WatcherRunner is the runner of w's goroutines.
func WatcherRunner(w *Watcher) *lifecycle.Runner { return &w.runner }

// OnInvalidate makes b call f with every invalidation it applies (ids, or all), right after the
// caches made before this call have applied it: a signal a test waits on to interleave a fill
// with an invalidation.
func OnInvalidate(b *Bus, f func(ids []uuid.UUID, all bool)) {
	b.mu.Lock()
	b.caches = append(b.caches, invalidatorFunc(f))
	b.mu.Unlock()
}

type invalidatorFunc func(ids []uuid.UUID, all bool)

func (f invalidatorFunc) invalidate(ids []uuid.UUID, all bool) { f(ids, all) }

// Kept reports whether c holds a value for id, whether or not its bus may serve it now.
func Kept[V any](c *Cache[V], id uuid.UUID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[id]
	return ok
}
