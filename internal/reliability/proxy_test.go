package reliability_test

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// proxyMode is what a dbProxy does with the traffic between the service and PostgreSQL.
type proxyMode int

const (
	// forward passes everything through.
	forward proxyMode = iota
	// refuse closes the listening socket: new connections are refused, as by a stopped server.
	refuse
	// blackhole accepts connections and never answers, as a network partition does.
	blackhole
	// dropReplies passes the client's bytes to the server but loses the server's answers: a
	// statement runs and commits, and its client never hears of it.
	dropReplies
	// muteAfterCommit passes everything until a connection sends COMMIT, then loses that
	// connection's answers: the transaction commits, and its client never hears of it.
	muteAfterCommit
	// muteOnStatement passes everything until a connection executes the prepared statement
	// whose text contains muteSQL, then loses that connection's answers.
	muteOnStatement
	// muteCommitOf is muteAfterCommit for the COMMIT of a transaction that executed the
	// statement whose text contains muteSQL: the commits of other transactions (a quota hold
	// taken before the upload's) are answered.
	muteCommitOf
)

// dbProxy is a TCP proxy, controlled by the test, between fileshare and PostgreSQL.
type dbProxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	mode  proxyMode
	ln    net.Listener
	conns map[net.Conn]struct{} // both ends of every proxied or held connection
	// muteOnStatement: the text that marks the statement, and its prepared name once seen
	muteSQL, muteStmt []byte
	wg                sync.WaitGroup
}

// newDBProxy starts a proxy to the database of dbURL and returns it with the URL through it.
func newDBProxy(t testing.TB, dbURL string) (*dbProxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{t: t, target: u.Host, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(ln)
	t.Cleanup(p.close)
	u.Host = p.addr
	return p, u.String()
}

func (p *dbProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		if mode == blackhole {
			continue // held open, never read, until restore or close
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

// pipe connects a client to the database and copies both ways until either side ends.
func (p *dbProxy) pipe(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(client)
		return
	}
	p.mu.Lock()
	if _, ok := p.conns[client]; !ok { // cut meanwhile
		p.mu.Unlock()
		server.Close()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	end := func() {
		once.Do(func() {
			p.drop(client)
			p.drop(server)
		})
	}
	var muted atomic.Bool
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 32<<10)
		saw := false // muteCommitOf: the transaction under way executed the statement
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if p.mutes(buf[:n], &saw) {
					muted.Store(true)
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		end()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && p.currentMode() != dropReplies && !muted.Load() {
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	end()
}

// mutes reports whether the client's bytes start what must go unanswered.
func (p *dbProxy) mutes(b []byte, saw *bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case muteCommitOf:
		if p.marks(b) {
			*saw = true
		}
		switch {
		case bytes.Contains(b, []byte("commit\x00")):
			return *saw
		case bytes.Contains(b, []byte("rollback\x00")):
			*saw = false
		}
		return false
	case muteAfterCommit:
		return bytes.Contains(b, []byte("commit\x00")) // pgx commits with the simple query "commit"
	case muteOnStatement:
		if bytes.Contains(b, p.muteSQL) {
			p.marks(b)
			return false
		}
		return p.marks(b)
	}
	return false
}

// marks reports whether b prepares or executes the statement whose text contains muteSQL. pgx
// prepares a statement once per connection (Parse, named stmtcache_<hash of its text>, with the
// text), then executes it by name (Bind, Execute).
func (p *dbProxy) marks(b []byte) bool {
	if len(p.muteSQL) == 0 {
		return false
	}
	if i := bytes.Index(b, p.muteSQL); i >= 0 {
		if k := bytes.LastIndex(b[:i], []byte("stmtcache_")); k >= 0 && k < i-1 {
			p.muteStmt = bytes.Clone(b[k : i-1])
		}
		return true
	}
	return p.muteStmt != nil && bytes.Contains(b, p.muteStmt)
}

func (p *dbProxy) currentMode() proxyMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

func (p *dbProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// cut closes every connection and applies mode to new ones: refuse closes the listener,
// blackhole holds new connections without answering.
func (p *dbProxy) cut(mode proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	if mode == refuse && p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// muteCommitsOf loses the answers of every connection from the COMMIT of a transaction that
// executed the statement whose text contains sql (muteCommitOf).
func (p *dbProxy) muteCommitsOf(sql string) {
	p.mu.Lock()
	p.mode, p.muteSQL, p.muteStmt = muteCommitOf, []byte(sql), nil
	p.mu.Unlock()
}

// setMode changes the mode without touching the open connections.
func (p *dbProxy) setMode(mode proxyMode) {
	p.mu.Lock()
	p.mode = mode
	p.mu.Unlock()
}

// restore closes whatever was held during the outage and forwards again, on the same address.
func (p *dbProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = forward
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	if p.ln == nil {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Errorf("proxy: listening again on %s: %v", p.addr, err)
			return
		}
		p.ln = ln
		p.wg.Add(1)
		go p.serve(ln)
	}
}

// open is the number of connections the proxy holds or forwards.
func (p *dbProxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *dbProxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
