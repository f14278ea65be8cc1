package coherence

import "fileshare/internal/lifecycle"

// ListenOn makes b's sessions listen on channel instead of Channel: deaf to their own
// heartbeats, as behind a pooler that drops notifications.
func ListenOn(b *Bus, channel string) { b.listen = channel }

// WatcherRunner is the runner of w's goroutines.
func WatcherRunner(w *Watcher) *lifecycle.Runner { return &w.runner }
