package powerloss

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// rel turns a symlink's text, met at name, into the name it points to
// (relative to the target's directory).
func (t *Trace) rel(link, name string) string {
	dir := t.rec.Dir()
	abs := link
	if !filepath.IsAbs(link) {
		abs = filepath.Join(dir, filepath.Dir(name), link)
	}
	r, err := filepath.Rel(dir, abs)
	if err != nil {
		return link
	}
	return r
}

// Build lays state r out on disk under root (which must not exist): the
// target's directory becomes root/s/t, and a name outside it (a symlink's
// data directory beside it) root/s/<dir>. Files sharing an inode are hard
// links; a symlink whose text is absolute is rewritten into root. It
// returns the directory that stands for the target's.
func (t *Trace) Build(r Recipe, root string) (string, error) {
	top := filepath.Join(root, "s")
	tdir := filepath.Join(top, "t")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return "", fmt.Errorf("crash state directory: %w", err)
	}
	made := map[uint64]string{}
	buf := make([]byte, 1<<20)
	for _, n := range sortedKeys(r.Names) {
		e := r.Names[n]
		p := filepath.Join(tdir, n)
		if !strings.HasPrefix(p, top+string(filepath.Separator)) {
			return "", fmt.Errorf("crash state: name %q lies outside the directories the state can hold", n)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		var err error
		switch {
		case e.Dir:
			err = os.MkdirAll(p, 0o755)
		case e.Link != "":
			err = os.Symlink(t.relink(e.Link, tdir), p)
		case made[e.Ino] != "":
			err = os.Link(made[e.Ino], p)
		default:
			made[e.Ino] = p
			err = t.writeFile(p, r.Files[e.Ino], buf)
		}
		if err != nil {
			return "", fmt.Errorf("crash state: %s: %w", n, err)
		}
	}
	return tdir, nil
}

// relink rewrites an absolute symlink text that points into a watched
// directory so that it points into the state's copy of it.
func (t *Trace) relink(link, tdir string) string {
	if !filepath.IsAbs(link) {
		return link
	}
	for _, d := range t.rec.dirs {
		if link == d || strings.HasPrefix(link, d+string(filepath.Separator)) {
			rel, err := filepath.Rel(t.rec.Dir(), link)
			if err == nil {
				return filepath.Join(tdir, rel)
			}
		}
	}
	return link
}

// writeFile writes the pages of f to path (buf is scratch space).
func (t *Trace) writeFile(path string, f *File, buf []byte) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	var off int64
	for off < f.Size {
		n := min(int64(len(buf)), f.Size-off)
		chunk := buf[:n]
		clear(chunk)
		for i := int64(0); i < n; i += PageSize {
			pi := int((off + i) / PageSize)
			if pi < len(f.Pages) {
				copy(chunk[i:min(i+PageSize, n)], t.rec.bytesOf(f.Pages[pi], pi))
			}
		}
		if _, err := out.WriteAt(chunk, off); err != nil {
			out.Close()
			return err
		}
		off += n
	}
	return out.Close()
}
