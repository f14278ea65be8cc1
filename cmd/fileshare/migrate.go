package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"fileshare/internal/store"
)

type migrateCmd struct {
	Up      migrateUpCmd      `cmd:"" help:"Apply all pending migrations."`
	Down    migrateDownCmd    `cmd:"" help:"Roll back the latest migration."`
	Status  migrateStatusCmd  `cmd:"" help:"List migrations and whether they are applied."`
	Version migrateVersionCmd `cmd:"" help:"Print the schema version of the database."`
}

// migrator opens the database and a migrator over the migrations embedded in the binary; done
// releases both. Migrations take session-level locks (so that replicas migrating at once do
// not race), which a pooler in transaction mode does not keep: they run on the direct URL when
// there is one, and refuse to run through a pooler.
func (e *env) migrator(ctx context.Context) (m *store.Migrator, done func(), err error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, nil, err
	}
	url := e.cfg.DatabaseURL
	if e.cfg.DatabaseDirectURL != "" {
		url = e.cfg.DatabaseDirectURL
	}
	st, err := store.Open(ctx, url, store.Options{QueryTimeout: e.cfg.DBTimeout, MaxConns: store.PoolConns(e.cfg.DBMaxConns, false)})
	if err != nil {
		return nil, nil, err
	}
	if st.Pooled() {
		st.Close()
		return nil, nil, errors.New("migrations need a session of their own, and the database URL leads to a connection pooler: set FILESHARE_DATABASE_DIRECT_URL to reach PostgreSQL itself")
	}
	m, err = st.NewMigrator()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return m, func() { m.Close(); st.Close() }, nil
}

type migrateUpCmd struct{}

func (migrateUpCmd) Run(ctx context.Context, e *env) error {
	m, done, err := e.migrator(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := m.Up(ctx)
	for _, r := range res {
		fmt.Fprintf(e.stdout, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
	}
	if err != nil {
		return err
	}
	v, err := m.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema at version %d\n", v)
	if q, _, err := m.QueueVersion(ctx); err == nil {
		fmt.Fprintf(e.stdout, "job queue schema at version %d\n", q)
	}
	return nil
}

type migrateDownCmd struct{}

func (migrateDownCmd) Run(ctx context.Context, e *env) error {
	m, done, err := e.migrator(ctx)
	if err != nil {
		return err
	}
	defer done()
	r, err := m.Down(ctx)
	if r != nil {
		fmt.Fprintf(e.stdout, "rolled back %s\n", r.Source.Path)
	}
	return err
}

type migrateStatusCmd struct{}

func (migrateStatusCmd) Run(ctx context.Context, e *env) error {
	m, done, err := e.migrator(ctx)
	if err != nil {
		return err
	}
	defer done()
	list, err := m.Status(ctx)
	if err != nil {
		return err
	}
	t := newTable(e.stdout, "VERSION", "STATE", "APPLIED AT", "FILE")
	for _, s := range list {
		t.row(strconv.FormatInt(s.Source.Version, 10), string(s.State), stamp(s.AppliedAt), s.Source.Path)
	}
	return t.flush()
}

type migrateVersionCmd struct{}

func (migrateVersionCmd) Run(ctx context.Context, e *env) error {
	m, done, err := e.migrator(ctx)
	if err != nil {
		return err
	}
	defer done()
	v, err := m.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d (latest embedded: %d)\n", v, m.Latest())
	return nil
}
