package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The connections an instance opens to PostgreSQL, counted from its side: the TCP sockets
// among its open files whose remote port is the database's. A whole bench's peak of it is
// reported against FILESHARE_DB_MAX_CONNS.

// dbConns counts pid's TCP connections to port.
func dbConns(pid, port int) int64 {
	inodes := map[string]bool{}
	fds, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var n int64
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st … inode: the remote address is ADDR:PORT in hex,
			// the state 01 is ESTABLISHED, the inode is the tenth field.
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
				continue
			}
			if _, p, ok := strings.Cut(f[2], ":"); ok {
				if v, err := strconv.ParseInt(p, 16, 32); err == nil && int(v) == port {
					n++
				}
			}
		}
	}
	return n
}

// dbPort is the port of a database URL (5432 when it names none).
func dbPort(dbURL string) int {
	u, err := url.Parse(dbURL)
	if err != nil || u.Port() == "" {
		return 5432
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// peakConns samples the connections of the bench's instance to the database every 20 ms
// until stop is closed.
func (b *bench) peakConns(stop <-chan struct{}) <-chan int64 {
	pid, port := b.fs.Pid(), dbPort(b.dbURL)
	return peakOf(20*time.Millisecond, func() int64 { return dbConns(pid, port) }, stop)
}

// connsRow is the peak of the instance's database connections over the whole bench.
func connsRow(peak int64) result {
	const budget = 8 // FILESHARE_DB_MAX_CONNS's default, which the bench keeps
	return result{
		Name: "peak database connections (one instance)", Unit: "connections", Fileshare: float64(peak),
		Target: "≤ " + strconv.Itoa(budget), Met: boolp(peak <= budget), Runs: []float64{float64(peak)},
		Note: "every connection the instance had open to PostgreSQL at once, whatever the load, counted from its side",
	}
}
