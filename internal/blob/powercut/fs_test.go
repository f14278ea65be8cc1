package powercut_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"fileshare/internal/blob/powercut"
)

func write(t *testing.T, f *powercut.FS, name, data string, sync bool) {
	t.Helper()
	fl, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(fl, data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fl.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	fl.Close()
}

func syncDir(t *testing.T, f *powercut.FS, name string) {
	t.Helper()
	d, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func read(f *powercut.FS, name string) (string, error) {
	fl, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(fl)
	return string(b), err
}

// What was synced comes back; what was not is forgotten: file data, and names in directories
// that were not synced after they changed.
func TestRecoverKeepsOnlyWhatWasSynced(t *testing.T) {
	f := powercut.New()
	if err := f.Mkdir("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	syncDir(t, f, "/")
	write(t, f, "/d/synced", "kept", true)
	write(t, f, "/d/unsynced", "lost", false)
	syncDir(t, f, "/d")
	write(t, f, "/d/synced", "overwritten but not synced", false)
	write(t, f, "/d/late", "data synced, name not", true)
	if err := f.Mkdir("/new", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, f, "/new/x", "in a directory whose own name was never synced", true)
	syncDir(t, f, "/new")
	if err := f.Rename("/d/synced", "/d/renamed"); err != nil {
		t.Fatal(err)
	}

	r := f.Recover()
	if got, err := read(r, "/d/synced"); err != nil || got != "kept" {
		t.Errorf("synced file: %q, %v", got, err)
	}
	if got, err := read(r, "/d/unsynced"); err != nil || got != "" {
		t.Errorf("file never synced: %q, %v; want its name and no data", got, err)
	}
	for _, gone := range []string{"/d/late", "/new/x", "/d/renamed"} {
		if _, err := r.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived: %v", gone, err)
		}
	}
	// And the old one is dead.
	if _, err := f.Stat("/d"); !errors.Is(err, syscall.EIO) {
		t.Errorf("the cut file system answers: %v", err)
	}
}

// A hard link made durable keeps the data under both names.
func TestRecoverHardLink(t *testing.T) {
	f := powercut.New()
	write(t, f, "/a", "data", true)
	syncDir(t, f, "/")
	if err := f.Link("/a", "/b"); err != nil {
		t.Fatal(err)
	}
	syncDir(t, f, "/")
	r := f.Recover()
	for _, n := range []string{"/a", "/b"} {
		if got, err := read(r, n); got != "data" || err != nil {
			t.Errorf("%s: %q, %v", n, got, err)
		}
	}
}

// The n-th step fails, and everything after it.
func TestCutAt(t *testing.T) {
	f := powercut.New()
	f.CutAt(3)
	fl, err := f.OpenFile("/x", os.O_RDWR|os.O_CREATE, 0o600) // step 1
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Write([]byte("a")); err != nil { // step 2
		t.Fatal(err)
	}
	if err := fl.Sync(); !errors.Is(err, syscall.EIO) { // step 3: the cut
		t.Fatalf("sync at the cut: %v", err)
	}
	if _, err := f.ReadDir("/"); !errors.Is(err, syscall.EIO) || !f.Dead() {
		t.Fatalf("after the cut: %v", err)
	}
	if got, err := read(f.Recover(), "/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("recovered %q, %v: the file's name was never synced", got, err)
	}
}
