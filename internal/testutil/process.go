package testutil

// The harness of the tests that run the real fileshare binary: building it, an environment
// free of the developer's own settings, and `fileshare serve` processes on free ports.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveDeadline bounds how long a process takes to serve, and to exit once told to.
const serveDeadline = 30 * time.Second

// BuildBinary builds the fileshare command, with the go build flags given (e.g. "-tags",
// "failpoints"), into a new temporary directory and returns its path; the caller removes
// filepath.Dir(path) when done.
func BuildBinary(flags ...string) (string, error) {
	dir, err := os.MkdirTemp("", "fileshare-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fileshare")
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	args := append(append([]string{"build"}, flags...), "-o", bin, "fileshare/cmd/fileshare")
	if out, err := exec.Command(gotool, args...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// CLIEnv is the environment for the binary: the test's own, without any fileshare setting that
// could leak in from the developer's shell, plus extra.
func CLIEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FILESHARE_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Serve is a running `fileshare serve`, its output (JSON log lines) collected in Logs.
type Serve struct {
	Cmd  *exec.Cmd
	Logs *LogBuffer
	// Addr is the address it serves on, known once WaitServing (or StartServe) returned.
	Addr string

	t    testing.TB
	done chan struct{} // closed once the process has exited
	err  error         // how it exited, once done is closed
}

// LaunchServe starts `bin serve args…` on a free port of loopback, in the environment
// CLIEnv(env…); the process is killed when the test ends unless it has exited by then.
func LaunchServe(t testing.TB, bin string, env []string, args ...string) *Serve {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = CLIEnv(append([]string{"FILESHARE_LISTEN=127.0.0.1:0"}, env...)...)
	s := &Serve{Cmd: cmd, Logs: &LogBuffer{}, t: t, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.Logs, s.Logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		if !s.Exited() {
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// StartServe is LaunchServe, then WaitReady("/healthz").
func StartServe(t testing.TB, bin string, env []string, args ...string) *Serve {
	t.Helper()
	s := LaunchServe(t, bin, env, args...)
	s.WaitReady("/healthz")
	return s
}

// WaitServing waits until the process has logged the address it serves, and sets Addr.
func (s *Serve) WaitServing() {
	s.t.Helper()
	deadline := time.Now().Add(serveDeadline)
	for {
		if addr, found := s.Logged("serving", "addr"); found {
			s.Addr = addr
			return
		}
		if s.Exited() {
			s.t.Fatalf("serve exited before serving: %v\n%s", s.err, s.Logs)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("serve did not start within %s:\n%s", serveDeadline, s.Logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitReady waits until the process serves and answers path with 200.
func (s *Serve) WaitReady(path string) {
	s.t.Helper()
	s.WaitServing()
	deadline := time.Now().Add(serveDeadline)
	for {
		resp, err := http.Get(s.URL(path))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not answer 200 within %s (%v):\n%s", path, serveDeadline, err, s.Logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// URL is the URL of path on the process.
func (s *Serve) URL(path string) string { return "http://" + s.Addr + path }

// Logged returns the value of key of the first log line whose msg is msg.
func (s *Serve) Logged(msg, key string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(s.Logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			v, _ := line[key].(string)
			return v, true
		}
	}
	return "", false
}

// Done is closed once the process has exited.
func (s *Serve) Done() <-chan struct{} { return s.done }

// Exited reports whether the process has exited.
func (s *Serve) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Err is how the process exited (nil for status 0), once it has.
func (s *Serve) Err() error {
	<-s.done
	return s.err
}

// Wait waits, within at most, for the process to exit, and returns its exit status (-1 when a
// signal ended it).
func (s *Serve) Wait(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("serve did not exit within %s:\n%s", within, s.Logs)
	}
	if s.Cmd.ProcessState == nil {
		s.t.Fatalf("serve: %v", s.err)
	}
	return s.Cmd.ProcessState.ExitCode()
}

// Killed reports whether SIGKILL ended the process; it must have exited.
func (s *Serve) Killed() bool {
	ws, ok := s.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Stop sends SIGTERM, waits for the process to exit and returns its exit status.
func (s *Serve) Stop() int {
	s.t.Helper()
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	return s.Wait(serveDeadline)
}
