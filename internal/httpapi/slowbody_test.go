package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// rawUpload starts a multipart POST /uploads on a raw connection that announces a large body,
// sends its first bytes, and then calls trickle until it returns false.
func rawUpload(t *testing.T, e *testutil.Env, trickle func(c net.Conn, closed <-chan struct{}) bool) (*http.Response, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const boundary = "B0UNDARY"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\n\r\n"
	fmt.Fprintf(conn, "POST /uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s",
		basic("alice@acme", "pw"), boundary, 1<<20, head)
	start := time.Now()
	done, closed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for trickle(conn, closed) {
		}
	}()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(start)
	conn.Close()
	close(closed)
	<-done
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	return resp, elapsed
}

func basic(login, password string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(login, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func assertNoUploadLeft(t *testing.T, e *testutil.Env) {
	t.Helper()
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads"); n != 0 {
		t.Fatalf("%d upload rows after a cut upload", n)
	}
	testutil.Eventually(t, 5*time.Second, "no file left in the data directory after a cut upload", func() bool {
		return len(testutil.TempFiles(t, e.DataDir))+len(testutil.BlobFiles(t, e.DataDir)) == 0
	})
}

func TestStalledUploadBodyIsCut(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.BodyIdleTimeout = 300 * time.Millisecond })
	e.AddUser("alice@acme", "pw")
	resp, elapsed := rawUpload(t, e, func(c net.Conn, closed <-chan struct{}) bool {
		c.Write([]byte("some bytes, then nothing"))
		<-closed
		return false
	})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"request body too slow"`) {
		t.Fatalf("stalled upload: %d %s", resp.StatusCode, body)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("stalled upload cut after %s", elapsed)
	}
	assertNoUploadLeft(t, e)
}

func TestTricklingUploadBodyIsCut(t *testing.T) {
	t.Parallel()
	// 300 ms windows that must carry 1000 B/s: 10 bytes every 50 ms (200 B/s) is too slow.
	e := testutil.NewEnv(t, func(c *config.Config) {
		c.BodyIdleTimeout = 300 * time.Millisecond
		c.BodyMinRate = 1000
	})
	e.AddUser("alice@acme", "pw")
	resp, elapsed := rawUpload(t, e, func(c net.Conn, _ <-chan struct{}) bool {
		if _, err := c.Write([]byte("0123456789")); err != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond) // the client's pace, not synchronisation
		return true
	})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickling upload: %d %s", resp.StatusCode, body)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("trickling upload cut after %s", elapsed)
	}
	assertNoUploadLeft(t, e)
}

// The landing page's form (its PIN) whose body never arrives answers 408 like every body that
// stalls, not 400, and the token stays unused.
func TestStalledPINFormIsCut(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.BodyIdleTimeout = 300 * time.Millisecond })
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "pin.txt", []byte("behind a pin"))
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, map[string]any{"pin": true})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := strings.TrimPrefix(tok.URL, e.URL)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npin=", path)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled PIN form: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"request body too slow"`) {
		t.Fatalf("stalled PIN form: %d %s", resp.StatusCode, body)
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("the stalled form consumed the token")
	}
}
