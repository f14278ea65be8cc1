// Package testutil gives tests a real PostgreSQL database of their own and a running fileshare
// on it. Each test gets a fresh database cloned from a template that is migrated once per set
// of migrations, so tests are isolated, parallel and fast.
package testutil

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"fileshare/db"
	"fileshare/internal/store"
)

// defaultAdminURL is used when FILESHARE_TEST_DATABASE_URL is not set.
const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the server the tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("FILESHARE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultAdminURL
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// migrationsHash names the template, so a changed migration builds a new one.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(db.Migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(db.Migrations, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	// The job queue's migrations come with the river module: a new version of it makes a new
	// template too.
	queue, qerr := rivermigrate.New(riverpgxv5.New(nil), nil)
	if qerr != nil {
		return "", qerr
	}
	for _, m := range queue.AllVersions() {
		fmt.Fprintf(h, "river\x00%d\x00%s\x00", m.Version, m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// withDatabase returns url pointing at database name instead.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func adminConn(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, AdminURL())
}

// ensureTemplate builds the migrated template database once per migrations hash. Test binaries
// of several packages run at once, so an advisory lock serialises the building.
func ensureTemplate() (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = buildTemplate()
	})
	return templateName, templateErr
}

func buildTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "fileshare_tmpl_" + hash
	conn, err := adminConn(ctx)
	if err != nil {
		return "", fmt.Errorf("test database server at %s: %w", AdminURL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(727274)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	if err := migrate(ctx, withDatabase(AdminURL(), building)); err != nil {
		return "", err
	}
	// Renamed only once complete, so a crashed build is never used as a template.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrate(ctx context.Context, dbURL string) error {
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.NewMigrator()
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// NewDatabase creates a migrated database for t, dropped when t ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	tmpl, err := ensureTemplate()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	return cloneDatabase(t, tmpl)
}

// NewEmptyDatabase creates a database without any migration, for migration tests.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return cloneDatabase(t, "template0")
}

func cloneDatabase(t testing.TB, tmpl string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := adminConn(ctx)
	if err != nil {
		t.Fatalf("test database server at %s: %v", AdminURL(), err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "fileshare_test_" + hex.EncodeToString(b[:])
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
		// Concurrent clones of one template may briefly see each other as users of it.
		if err == nil || attempt >= 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(time.Duration(20+attempt*10) * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := adminConn(ctx)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(AdminURL(), name)
}
