package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server of a test's own, for a test that needs to set what the shared
// one cannot (max_connections) or to count every connection made to it. It is created with
// the Debian server package's initdb and stopped, with its data removed, when the test ends.
type Cluster struct {
	// URL is the URL of its postgres database, as the superuser postgres.
	URL string
	*child
}

// StartCluster creates and starts a cluster on a free port of loopback, with the server
// settings given ("max_connections=100"). The test is skipped when the PostgreSQL server
// binaries are missing.
func StartCluster(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		t.Skip("no PostgreSQL server binaries (initdb) found: install the Debian package postgresql")
	}
	// PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user,
	// in a directory of its own.
	dir, err := sharedDir("fileshare-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	if err := asPostgres(initdb); err != nil {
		t.Fatal(err)
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	// The free port is found by binding and releasing it: another process may take it first.
	for attempt := 0; attempt < 3; attempt++ {
		c, err := tryStartCluster(bin, dir, settings)
		if err == nil {
			t.Cleanup(func() {
				c.terminate(syscall.SIGINT, 30*time.Second) // a fast shutdown
				if t.Failed() {
					t.Logf("the cluster's log:\n%s", c.logs)
				}
			})
			return c
		}
		lastErr = err
	}
	t.Fatalf("postgres: %v", lastErr)
	return nil
}

func tryStartCluster(bin, dir string, settings []string) (*Cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// A throwaway cluster: no durability of the server itself.
	args := []string{"-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	if err := asPostgres(cmd); err != nil {
		return nil, err
	}
	c := &Cluster{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if c.child, err = startChild(cmd); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return c, nil
		}
		if c.exited() || time.Now().After(deadline) {
			c.terminate(syscall.SIGINT, 10*time.Second)
			return nil, fmt.Errorf("postgres did not answer (%v): %s", err, strings.TrimSpace(c.logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postgresBinDir is the directory of the newest installed server's initdb and postgres.
func postgresBinDir() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// Database creates a database named name in the cluster and returns its URL.
func (c *Cluster) Database(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return withDatabase(c.URL, name)
}
