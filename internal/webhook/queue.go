package webhook

import (
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"fileshare/internal/store"
)

// The job queue's connections. River runs its queries on the store's pool, and its notifier
// (LISTEN, to hear of new jobs at once) needs a session of its own, which a pooler in
// transaction mode cannot give: it listens on the store's session pool (one connection, to the
// direct URL or to PostgreSQL reached directly); behind a pooler without a direct URL River
// polls (every FetchPollInterval) and listens nowhere. Either way the queue stays within the
// instance's connection budget.

// sessionListener is River's driver on the pool whose notifier listens on another pool.
type sessionListener struct {
	*riverpgxv5.Driver
	sessions *riverpgxv5.Driver
}

// GetListener returns a listener on the session pool.
func (d sessionListener) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return d.sessions.GetListener(params)
}

// queueDriver returns River's driver on st, and whether River must poll (no session pool).
func queueDriver(st *store.Store) (riverdriver.Driver[pgx.Tx], bool) {
	queries := riverpgxv5.New(st.Pool)
	sessions := st.SessionPool()
	if sessions == nil {
		return queries, true
	}
	return sessionListener{Driver: queries, sessions: riverpgxv5.New(sessions)}, false
}
