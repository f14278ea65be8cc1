package testutil

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer is Debian's pgbouncer in transaction pooling mode in front of the tests'
// PostgreSQL (AdminURL), one per test: every database of that server is reachable through
// it, as the same user, without a password.
type PgBouncer struct {
	// Addr is where it listens, host:port.
	Addr string
	dir  string
	*child
}

// PgBouncerPoolSize is how many server connections it opens per database at most: small, so
// that the tests also see clients wait for a connection of the pooler.
const PgBouncerPoolSize = 8

// StartPgBouncer starts a pgbouncer for t, stopped when t ends. The test is skipped when the
// pgbouncer program is missing (Debian: apt-get install pgbouncer; .ci/run installs it).
func StartPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer)")
	}
	var lastErr error
	// The free port is found by binding and releasing it: another process may take it first.
	for attempt := 0; attempt < 3; attempt++ {
		b, err := tryStartPgBouncer(bin)
		if err == nil {
			t.Cleanup(func() {
				b.terminate()
				if t.Failed() {
					t.Logf("pgbouncer's log:\n%s", b.logs)
				}
			})
			return b
		}
		lastErr = err
	}
	t.Fatalf("pgbouncer: %v", lastErr)
	return nil
}

func tryStartPgBouncer(bin string) (*PgBouncer, error) {
	server, err := url.Parse(AdminURL())
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// pgbouncer runs as postgres when the tests run as root: its directory must be its own.
	dir, err := sharedDir("fileshare-pgbouncer-")
	if err != nil {
		return nil, err
	}
	user := server.User.Username()
	if user == "" {
		user = "postgres"
	}
	// auth_type any: whoever connects is logged in as the database entry's user. The wildcard
	// entry reaches every database of the server under its own name.
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s user=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = %d
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
`, server.Hostname(), portOr(server.Port(), "5432"), user, port, PgBouncerPoolSize)
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, conf)
	cmd.Dir = dir
	if err := asPostgres(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &PgBouncer{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	if b.child, err = startChild(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, b.URL(AdminURL()))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return b, nil
		}
		if b.exited() || time.Now().After(deadline) {
			b.terminate()
			return nil, fmt.Errorf("pgbouncer did not answer (%v): %s", err, strings.TrimSpace(b.logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func portOr(port, def string) string {
	if port == "" {
		return def
	}
	return port
}

// URL is dbURL (a database of AdminURL's server) reached through the pooler.
func (b *PgBouncer) URL(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err)
	}
	u.Host = b.Addr
	return u.String()
}

// terminate stops it and removes its directory.
func (b *PgBouncer) terminate() {
	b.child.terminate(syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(b.dir)
}
