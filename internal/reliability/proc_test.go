package reliability_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// The fileshare binary built with -tags failpoints, once per test binary.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func failpointBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "fileshare-failpoints-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "fileshare")
		gotool, err := exec.LookPath("go")
		if err != nil {
			gotool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		out, err := exec.Command(gotool, "build", "-tags", "failpoints", "-o", binPath, "fileshare/cmd/fileshare").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("building fileshare with failpoints: %v", binErr)
	}
	return binPath
}

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// cliEnv is the test's environment without any fileshare setting of the developer's shell.
func cliEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FILESHARE_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// proc is a running `fileshare serve`.
type proc struct {
	cmd  *exec.Cmd
	logs *testutil.LogBuffer
	done chan struct{}
	err  error
	addr string
}

// startServe starts `fileshare serve` on a free port and returns once it listens.
func startServe(t *testing.T, bin string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = cliEnv(append([]string{"FILESHARE_LISTEN=127.0.0.1:0"}, env...)...)
	p := &proc{cmd: cmd, logs: &testutil.LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.dead() {
			cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for p.addr == "" {
		sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				p.addr = line.Addr
			}
		}
		if p.addr != "" {
			break
		}
		if p.dead() {
			t.Fatalf("serve exited before serving: %v\n%s", p.err, p.logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within 30s:\n%s", p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) dead() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits for the process to end and tells whether SIGKILL ended it.
func (p *proc) waitExit(t *testing.T, within time.Duration) (killed bool) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("serve did not exit within %s:\n%s", within, p.logs)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, 30*time.Second)
	return p.cmd.ProcessState.ExitCode()
}
