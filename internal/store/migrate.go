package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"fileshare/db"
)

// Migrator runs the embedded goose migrations.
type Migrator struct {
	*goose.Provider
	sqlDB *sql.DB
}

// NewMigrator returns a goose provider over the embedded migrations. It takes a session-level
// advisory lock while migrating, so replicas that migrate at once do not race.
func (s *Store) NewMigrator() (*Migrator, error) {
	fsys, err := fs.Sub(db.Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(s.Pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return &Migrator{Provider: p, sqlDB: sqlDB}, nil
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
	return nil
}
