package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"fileshare/db"
)

// QueueSchema is the schema of the job queue (River's tables) that delivers webhook events. The
// goose migration 00009 creates it; River's own migrations, embedded in its module, fill it.
const QueueSchema = "river"

// queueMigrationLock serialises River's migrations between replicas migrating at once (goose
// has its own lock, River's migrator none).
const queueMigrationLock = 727275

// Migrator runs the embedded goose migrations, then those of the job queue.
type Migrator struct {
	*goose.Provider
	sqlDB *sql.DB
	queue *rivermigrate.Migrator[pgx.Tx]
	st    *Store
}

// NewMigrator returns a goose provider over the embedded migrations. It takes a session-level
// advisory lock while migrating, so replicas that migrate at once do not race; so it needs a
// session of its own, which a pooler in transaction mode does not give.
func (s *Store) NewMigrator() (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return s.newMigrator(goose.WithSessionLocker(locker))
}

// CheckSchema returns an error unless the database schema is exactly at the binary's latest
// migration (Migrator.CheckCurrent). It reads without taking the migrations' lock, which
// goose takes to read a version too: through a pooler in transaction mode, that session-level
// lock would be left on a server connection and hold every later migration up.
func (s *Store) CheckSchema(ctx context.Context) error {
	m, err := s.newMigrator()
	if err != nil {
		return err
	}
	defer m.Close()
	return m.CheckCurrent(ctx)
}

func (s *Store) newMigrator(opts ...goose.ProviderOption) (*Migrator, error) {
	fsys, err := fs.Sub(db.Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(s.Pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, opts...)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	queue, err := rivermigrate.New(riverpgxv5.New(s.Pool), &rivermigrate.Config{
		Schema: QueueSchema, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return &Migrator{Provider: p, sqlDB: sqlDB, queue: queue, st: s}, nil
}

// Up applies the pending goose migrations, then the job queue's: `fileshare migrate up` stays
// the one deploy step.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := m.Provider.Up(ctx)
	if err != nil {
		return res, err
	}
	conn, err := m.st.Pool.Acquire(ctx)
	if err != nil {
		return res, translate(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", queueMigrationLock); err != nil {
		return res, translate(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", queueMigrationLock)
	if _, err := m.queue.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return res, fmt.Errorf("job queue migrations: %w", err)
	}
	return res, nil
}

// QueueVersion is the job queue's schema version in the database (0 without any), and the
// newest one this binary knows.
func (m *Migrator) QueueVersion(ctx context.Context) (current, latest int, err error) {
	all := m.queue.AllVersions()
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	var exists bool
	if err := m.st.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", QueueSchema+".river_migration").Scan(&exists); err != nil || !exists {
		return 0, latest, translate(err)
	}
	have, err := m.queue.ExistingVersions(ctx)
	if err != nil {
		return 0, latest, err
	}
	if len(have) > 0 {
		current = have[len(have)-1].Version
	}
	return current, latest, nil
}

// Close releases the migrator's database handle (not the pool).
func (m *Migrator) Close() error { return m.sqlDB.Close() }

// Latest is the newest migration version embedded in the binary.
func (m *Migrator) Latest() int64 {
	src := m.ListSources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1].Version
}

// CheckCurrent returns an error unless the database schema is exactly at Latest.
func (m *Migrator) CheckCurrent(ctx context.Context) error {
	v, err := m.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if latest := m.Latest(); v != latest {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `fileshare migrate up`", v, latest)
	}
	current, latest, err := m.QueueVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the job queue's schema version: %w", err)
	}
	if current != latest {
		return fmt.Errorf("the job queue's schema (%s) is at version %d, this binary needs %d: run `fileshare migrate up`", QueueSchema, current, latest)
	}
	res, err := m.queue.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("checking the job queue's schema: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("the job queue's schema (%s) is incomplete (%s): run `fileshare migrate up`", QueueSchema, strings.Join(res.Messages, "; "))
	}
	return nil
}
