//go:build !linux

package testutil

import "os/exec"

// setParentDeathSignal is Linux only; elsewhere StopMinIO in TestMain is the only clean-up.
func setParentDeathSignal(*exec.Cmd) {}
