package testutil

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the child when its parent ends, so that a test
// binary that crashes or is killed does not leave its server running.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
