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
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
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

// OpenFile implements blob.FS.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (blob.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("open", name); err != nil {
		return nil, err
	}
	dir, base, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	var n *inode
	if dir == nil {
		n = f.root
	} else {
		n = dir.entries[base]
	}
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	case n == nil:
		if err := f.step("open", name); err != nil {
			return nil, err
		}
		n = &inode{mode: perm, mod: time.Now()}
		dir.entries[base] = n
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
	case n.dir && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case flag&os.O_TRUNC != 0:
		if err := f.step("open", name); err != nil {
			return nil, err
		}
		n.data, n.mod = nil, time.Now()
	}
	return &file{fs: f, n: n, name: path.Clean(name), append: flag&os.O_APPEND != 0}, nil
}

// CreateTemp implements blob.FS.
func (f *FS) CreateTemp(dir, pattern string) (blob.File, error) {
	for {
		name := strings.Replace(pattern, "*", fmt.Sprintf("%09d", rand.IntN(1e9)), 1)
		if !strings.Contains(pattern, "*") {
			name = pattern + fmt.Sprintf("%09d", rand.IntN(1e9))
		}
		fl, err := f.OpenFile(path.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if pe, ok := err.(*fs.PathError); ok && pe.Err == syscall.EEXIST {
			continue
		}
		return fl, err
	}
}

// Mkdir implements blob.FS.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, base, err := f.lookup("mkdir", name)
	if err != nil {
		return err
	}
	if dir == nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	if err := f.step("mkdir", name); err != nil {
		return err
	}
	if _, ok := dir.entries[base]; ok {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	dir.entries[base] = newDir(perm)
	return nil
}

// Rename implements blob.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	od, ob, err := f.lookup("rename", oldpath)
	if err != nil {
		return err
	}
	nd, nb, err := f.lookup("rename", newpath)
	if err != nil {
		return err
	}
	if od == nil || nd == nil {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: syscall.EBUSY}
	}
	if err := f.step("rename", oldpath); err != nil {
		return err
	}
	n, ok := od.entries[ob]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: syscall.ENOENT}
	}
	if old, ok := nd.entries[nb]; ok && old.dir {
		return &fs.PathError{Op: "rename", Path: newpath, Err: syscall.EISDIR}
	}
	delete(od.entries, ob)
	nd.entries[nb] = n
	return nil
}

// Link implements blob.FS.
func (f *FS) Link(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get("link", oldname)
	if err != nil {
		return err
	}
	nd, nb, err := f.lookup("link", newname)
	if err != nil {
		return err
	}
	if n.dir || nd == nil {
		return &fs.PathError{Op: "link", Path: oldname, Err: syscall.EPERM}
	}
	if err := f.step("link", newname); err != nil {
		return err
	}
	if _, ok := nd.entries[nb]; ok {
		return &fs.PathError{Op: "link", Path: newname, Err: syscall.EEXIST}
	}
	nd.entries[nb] = n
	return nil
}

// Remove implements blob.FS.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, base, err := f.lookup("remove", name)
	if err != nil {
		return err
	}
	if dir == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	n, ok := dir.entries[base]
	if !ok {
		if err := f.alive("remove", name); err != nil {
			return err
		}
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	}
	if err := f.step("remove", name); err != nil {
		return err
	}
	if n.dir && len(n.entries) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(dir.entries, base)
	return nil
}

// Stat implements blob.FS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("stat", name); err != nil {
		return nil, err
	}
	n, err := f.get("stat", name)
	if err != nil {
		return nil, err
	}
	return info(path.Base(name), n), nil
}

// ReadDir implements blob.FS: the entries sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("readdir", name); err != nil {
		return nil, err
	}
	n, err := f.get("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	names := make([]string, 0, len(n.entries))
	for k := range n.entries {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, len(names))
	for i, k := range names {
		out[i] = fs.FileInfoToDirEntry(info(k, n.entries[k]))
	}
	return out, nil
}

// Files lists the paths of the regular files below dir as they are now, with their sizes.
func (f *FS) Files(dir string) map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int64{}
	n, err := f.get("files", dir)
	if err != nil {
		return out
	}
	var walk func(p string, n *inode)
	walk = func(p string, n *inode) {
		for k, c := range n.entries {
			if c.dir {
				walk(path.Join(p, k), c)
			} else {
				out[path.Join(p, k)] = int64(len(c.data))
			}
		}
	}
	walk(path.Clean(dir), n)
	return out
}

func info(name string, n *inode) fs.FileInfo {
	return &fileInfo{name: name, size: int64(len(n.data)), mode: n.mode, mod: n.mod, dir: n.dir}
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
	dir  bool
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.dir }
func (i *fileInfo) Sys() any           { return nil }

// file is an open file (or directory, for Sync).
type file struct {
	fs     *FS
	n      *inode
	name   string
	pos    int64
	append bool
}

func (fl *file) Name() string { return fl.name }

func (fl *file) Read(p []byte) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.alive("read", fl.name); err != nil {
		return 0, err
	}
	if fl.n.dir {
		return 0, &fs.PathError{Op: "read", Path: fl.name, Err: syscall.EISDIR}
	}
	if fl.pos >= int64(len(fl.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, fl.n.data[fl.pos:])
	fl.pos += int64(n)
	return n, nil
}

func (fl *file) Write(p []byte) (int, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("write", fl.name); err != nil {
		return 0, err
	}
	if fl.append {
		fl.pos = int64(len(fl.n.data))
	}
	end := fl.pos + int64(len(p))
	if end > int64(len(fl.n.data)) {
		fl.n.data = append(fl.n.data, make([]byte, end-int64(len(fl.n.data)))...)
	}
	copy(fl.n.data[fl.pos:], p)
	fl.pos = end
	fl.n.mod = time.Now()
	return len(p), nil
}

func (fl *file) Seek(offset int64, whence int) (int64, error) {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.alive("seek", fl.name); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += fl.pos
	case io.SeekEnd:
		offset += int64(len(fl.n.data))
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: fl.name, Err: syscall.EINVAL}
	}
	fl.pos = offset
	return offset, nil
}

func (fl *file) Truncate(size int64) error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("truncate", fl.name); err != nil {
		return err
	}
	if size <= int64(len(fl.n.data)) {
		fl.n.data = fl.n.data[:size:size]
	} else {
		fl.n.data = append(fl.n.data, make([]byte, size-int64(len(fl.n.data)))...)
	}
	fl.n.mod = time.Now()
	return nil
}

// Sync makes the file's data, or the directory's entries, durable.
func (fl *file) Sync() error {
	fl.fs.mu.Lock()
	defer fl.fs.mu.Unlock()
	if err := fl.fs.step("sync", fl.name); err != nil {
		return err
	}
	if fl.n.dir {
		fl.n.syncedEntries = maps(fl.n.entries)
	} else {
		fl.n.synced = slices.Clone(fl.n.data)
	}
	return nil
}

func (fl *file) Close() error { return nil }
