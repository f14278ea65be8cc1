//go:build !failpoints

// Package failpoint marks the places where crash tests kill the process: between the steps
// that make an upload durable and visible. In normal builds Hit does nothing and costs nothing;
// binaries built with -tags failpoints kill themselves (SIGKILL) at the point named by
// FILESHARE_FAILPOINT ("name" or "name:N" for the Nth time it is reached).
package failpoint

// Hit marks a failpoint.
func Hit(string) {}
