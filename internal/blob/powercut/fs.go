// Package powercut is a file system for tests that loses power. It keeps everything in memory
// and tracks, besides what each file and directory holds now, what it held when it was last
// synced. At a cut every later call fails (EIO), and Recover returns the file system as the
// machine finds it when power comes back: each file's data as of its last fsync, each
// directory's entries as of its last fsync. So a file whose data was never synced comes back
// empty, and a name created, renamed, linked or removed in a directory that was not synced
// afterwards comes back as it was before; a new directory whose parent was not synced is gone
// with everything in it.
//
// With Torn, recovery is less kind and less predictable: each file and directory that changed
// since its last sync comes back either as it was then or as it is now, at random, as when the
// kernel happened to write some things back before the cut and not others.
//
// Steps are the calls that change something or make it durable (creating or opening with
// O_CREATE or O_TRUNC, Write, Truncate, Sync, Mkdir, Rename, Link, Remove); CutAt makes the
// n-th step from now fail, and everything after it.
package powercut

import (
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"fileshare/internal/blob"
)

// FS is the file system. Paths are absolute, with slashes.
type FS struct {
	mu    sync.Mutex
	root  *inode
	steps int
	cutAt int // the step that fails first; 0: none
	dead  bool
	// Torn, when set, decides at random what of the unsynced changes Recover keeps.
	Torn *rand.Rand
}

type inode struct {
	dir  bool
	mode fs.FileMode
	mod  time.Time
	// A file's data now and at its last sync.
	data, synced []byte
	// A directory's entries now and at its last sync.
	entries, syncedEntries map[string]*inode
}

var _ blob.FS = (*FS)(nil)

// New returns an empty file system: just the root directory.
func New() *FS {
	return &FS{root: newDir(0o755)}
}

func newDir(mode fs.FileMode) *inode {
	return &inode{dir: true, mode: fs.ModeDir | mode, mod: time.Now(), entries: map[string]*inode{}, syncedEntries: map[string]*inode{}}
}

// CutAt makes the n-th step from now (n ≥ 1) fail, and every call after it.
func (f *FS) CutAt(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutAt = f.steps + n
}

// Steps counts the steps so far.
func (f *FS) Steps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.steps
}

// Dead reports whether the power was cut.
func (f *FS) Dead() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead
}

// Cut cuts the power now.
func (f *FS) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = true
}

// Recover returns what comes back when the power does: a new file system holding what was
// durable (and, with Torn, some of what was not). f stays dead.
func (f *FS) Recover() *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = true
	seen := map[*inode]*inode{} // hard links stay one inode
	var rebuild func(old *inode) *inode
	rebuild = func(old *inode) *inode {
		if n, ok := seen[old]; ok {
			return n
		}
		n := &inode{dir: old.dir, mode: old.mode, mod: old.mod}
		seen[old] = n
		if old.dir {
			src := old.syncedEntries
			if f.Torn != nil && f.Torn.IntN(2) == 0 {
				src = old.entries
			}
			n.entries = make(map[string]*inode, len(src))
			for name, child := range src {
				n.entries[name] = rebuild(child)
			}
			n.syncedEntries = maps(n.entries)
			return n
		}
		src := old.synced
		if f.Torn != nil && f.Torn.IntN(2) == 0 {
			src = old.data
		}
		n.data, n.synced = slices.Clone(src), slices.Clone(src)
		return n
	}
	return &FS{root: rebuild(f.root), Torn: f.Torn}
}

func maps(m map[string]*inode) map[string]*inode {
	c := make(map[string]*inode, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// step counts a step; it fails when it is the cut, or after it.
func (f *FS) step(op, name string) error {
	if f.dead {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	f.steps++
	if f.cutAt > 0 && f.steps >= f.cutAt {
		f.dead = true
		return &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	return nil
}

func (f *FS) alive(op, name string) error {
	if f.dead {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	return nil
}

// lookup finds name's directory and name's last element in it.
func (f *FS) lookup(op, name string) (dir *inode, base string, err error) {
	name = path.Clean(name)
	if !path.IsAbs(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	if name == "/" {
		return nil, "", nil
	}
	dir = f.root
	parts := strings.Split(name[1:], "/")
	for _, p := range parts[:len(parts)-1] {
		next, ok := dir.entries[p]
		if !ok {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
		}
		if !next.dir {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		dir = next
	}
	return dir, parts[len(parts)-1], nil
}

// get finds the inode of name.
func (f *FS) get(op, name string) (*inode, error) {
	dir, base, err := f.lookup(op, name)
	if err != nil {
		return nil, err
	}
	if dir == nil {
		return f.root, nil
	}
	n, ok := dir.entries[base]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	return n, nil
}
