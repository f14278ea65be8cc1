package powercut

// The calls on paths: opening and creating files, making directories, renaming, linking,
// removing, and reading what is there.

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"fileshare/internal/blob"
)

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
