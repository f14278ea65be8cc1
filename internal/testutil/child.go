package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// child is a server that a test helper runs (MinIO, PgBouncer, PostgreSQL), its output in
// logs. The kernel kills it when the test binary ends, so that a test binary that crashes or
// is killed leaves no server running.
type child struct {
	cmd  *exec.Cmd
	logs *LogBuffer
	done chan struct{} // closed once it has exited
	stop chan struct{} // releases the thread that started it
}

// startChild starts cmd, its output collected.
func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, logs: &LogBuffer{}, done: make(chan struct{}), stop: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	setParentDeathSignal(cmd)
	// The parent-death signal fires when the thread that started the child ends, not the
	// process: start it from a thread that stays until terminate releases it.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		go func() { cmd.Wait(); close(c.done) }()
		<-c.stop
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// terminate sends sig, then SIGKILL after within, and waits for the child to exit.
func (c *child) terminate(sig syscall.Signal, within time.Duration) {
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(within):
		c.cmd.Process.Kill()
		<-c.done
	}
	close(c.stop)
}

// asPostgres makes cmd run as the postgres user when the test runs as root: PostgreSQL and
// PgBouncer refuse to run as root. The parent-death signal survives this change of user (it is
// set after it), which a server switching users by itself would lose.
func asPostgres(cmd *exec.Cmd) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, a server needs the postgres user: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

// sharedDir makes a temporary directory that the postgres user may own (when the test runs as
// root, a server running as postgres writes there) and returns it.
func sharedDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}
