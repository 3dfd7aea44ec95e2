package powerloss

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/step"
)

// PageSize is the granularity of torn writes in both models: one 4 KiB
// block. posix also tears a block at SectorSize (Recorder.tear).
const PageSize = 4096

// SectorSize is the unit a disk writes atomically: a power cut may leave a
// block with some of its sectors written and the others not.
const SectorSize = 512

// Source says where the bytes of one page of a captured file come from.
type Source uint8

// The sources of a page.
const (
	FromZero Source = iota // zeros (data that never reached the disk)
	FromOld                // the same page of the old version
	FromNew                // the same page of the new version
	FromBlob               // bytes of neither: kept in Recorder.blobs
)

// Page is one page of a captured file: its source, and for FromBlob the
// index of its bytes.
type Page struct {
	Src  Source
	Blob int32
}

// File is the content of one inode at one point of the trace.
type File struct {
	Size  int64
	Pages []Page // ceil(Size/PageSize) pages; the last may be partial
}

// same reports whether f and g hold the same bytes.
func (f *File) same(g *File) bool {
	return f == g || f != nil && g != nil && f.Size == g.Size && slices.Equal(f.Pages, g.Pages)
}

// Entry is one name of a watched directory.
type Entry struct {
	Ino  uint64 // the inode of a regular file, 0 otherwise
	Link string // a symlink's text
	Dir  bool   // a directory (its content is not captured)
}

// SyncKind says what a barrier made durable.
type SyncKind uint8

// The kinds of barriers.
const (
	NoSync   SyncKind = iota // not a barrier
	SyncFile                 // fsync or fdatasync of a regular file: its data and size
	SyncDir                  // fsync of a watched directory: its entries
	SyncAll                  // syncfs: everything
	SyncNone                 // a barrier that guarantees nothing here (sync_file_range)
)

// Point is the state of the watched directories after one call of the
// trace (or before the update, N 0).
type Point struct {
	// N is the call's number (#N), Call its text with its result.
	N    int
	Call string
	// Sync is what the call made durable when it is a barrier; Ino the
	// file it synced (SyncFile), Dir the directory (SyncDir).
	Sync SyncKind
	Ino  uint64
	Dir  string
	// Entries maps each name, relative to the target's directory, to
	// what it is; Files the content of every regular file named.
	Entries map[string]Entry
	Files   map[uint64]*File
	// Err says why the point could not be captured whole.
	Err string
}

// Recorder captures a Point at every call of a stepped update: give its
// OnCall to step.Config.OnCall. It reads each regular file of the watched
// directories page by page and keeps, per page, whether it equals the same
// page of the old or the new version, or zeros; only pages that match
// none are copied. It works for any updater: nothing depends on what the
// calls were, only on what the directories hold after each.
type Recorder struct {
	target   string
	dirs     []string // watched directories, canonical; dirs[0] is the target's
	old, new []byte
	Points   []Point
	blobs    [][]byte
	blobIdx  map[uint64][]int32
	seed     maphash.Seed
	buf      []byte
	prev     map[uint64]fileStamp
	// ids gives each inode number met its current identity: an inode
	// number freed and used again (unlink, then create) is a new file.
	ids     map[uint64]uint64
	live    map[uint64]bool // inode numbers named at the last point
	nextGen uint64
}

// fileStamp lets a file that did not change since the last point be reused.
type fileStamp struct {
	size, mtime, ctime int64
	read               int64 // when it was read (ns, wall clock)
	f                  *File
}

// settled is how long before its last read a file's ctime must be for
// an unchanged stamp to prove it unchanged: a change after the read
// gets a ctime no older than the read, less one coarse clock tick.
const settled = int64(50 * time.Millisecond)

// NewRecorder watches the directory of target (and the one it points into
// when it is a symlink, as it is when the recording starts), comparing
// pages with the versions at old and new.
func NewRecorder(target, old, new string) (*Recorder, error) {
	r := &Recorder{blobIdx: map[uint64][]int32{}, seed: maphash.MakeSeed(), buf: make([]byte, 1<<20)}
	var err error
	if r.old, err = os.ReadFile(old); err != nil {
		return nil, fmt.Errorf("power-loss recorder: old version: %w", err)
	}
	if r.new, err = os.ReadFile(new); err != nil {
		return nil, fmt.Errorf("power-loss recorder: new version: %w", err)
	}
	if r.target, err = filepath.Abs(target); err != nil {
		return nil, fmt.Errorf("power-loss recorder: target: %w", err)
	}
	return r, nil
}

// watch resolves the watched directories: the target's is laid out by
// then (the recording starts after step.Config.Prepare).
func (r *Recorder) watch() {
	tdir, err := filepath.EvalSymlinks(filepath.Dir(r.target))
	if err != nil {
		tdir = filepath.Dir(r.target)
	}
	r.dirs = []string{tdir}
	if real, err := filepath.EvalSymlinks(r.target); err == nil && filepath.Dir(real) != tdir {
		r.dirs = append(r.dirs, filepath.Dir(real))
	}
}

// Dir is the target's directory, canonical: entry names are relative to it.
func (r *Recorder) Dir() string { return r.dirs[0] }

// OnCall captures the point after c (before the update when c is nil,
// which starts a new recording).
func (r *Recorder) OnCall(c *step.Call) {
	if c == nil {
		r.watch()
		r.Points, r.prev, r.ids, r.live, r.nextGen = nil, map[uint64]fileStamp{}, map[uint64]uint64{}, map[uint64]bool{}, 0
		r.Points = append(r.Points, r.capture(Point{Call: "before the update"}))
		return
	}
	p := Point{N: c.N, Call: c.String()}
	if c.Class == step.Barrier && !c.Failed() {
		r.barrier(c, &p)
	}
	if c.Class != step.Mutating && len(r.Points) > 0 {
		// A barrier changes nothing: share the last point's content.
		last := r.Points[len(r.Points)-1]
		p.Entries, p.Files = last.Entries, last.Files
		r.Points = append(r.Points, p)
		return
	}
	r.Points = append(r.Points, r.capture(p))
}

// barrier says what c made durable.
func (r *Recorder) barrier(c *step.Call, p *Point) {
	switch c.Name {
	case "syncfs":
		p.Sync = SyncAll
		return
	case "sync_file_range":
		p.Sync = SyncNone // it writes data back but persists no metadata
		return
	}
	path, ok := c.FileOf(r.dirs[0])
	if !ok {
		return
	}
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		p.Sync, p.Dir = SyncDir, filepath.Clean(path)
	case unix.S_IFREG:
		p.Sync, p.Ino = SyncFile, st.Ino
		if id, ok := r.ids[st.Ino]; ok {
			p.Ino = id
		}
	}
}

// capture reads the watched directories into p.
func (r *Recorder) capture(p Point) Point {
	p.Entries, p.Files = map[string]Entry{}, map[uint64]*File{}
	var errs []error
	seen := map[uint64]bool{}
	defer func() { r.live = seen }()
	for _, d := range r.dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range ents {
			full := filepath.Join(d, e.Name())
			name, _ := filepath.Rel(r.dirs[0], full)
			en, err := r.entry(full, &p, seen)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.Entries[name] = en
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.Err = err.Error()
	}
	return p
}

// lstatEntry reads what name full is: a symlink's or a directory's Entry
// (regular false), or the stat of a regular file (regular true).
func lstatEntry(full string) (e Entry, st unix.Stat_t, regular bool, err error) {
	if err := unix.Lstat(full, &st); err != nil {
		return Entry{}, st, false, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		l, err := os.Readlink(full)
		return Entry{Link: l}, st, false, err
	case unix.S_IFDIR:
		return Entry{Dir: true}, st, false, nil
	case unix.S_IFREG:
		return Entry{}, st, true, nil
	}
	return Entry{}, st, false, fmt.Errorf("%s: not a regular file, directory or symlink", full)
}

// entry captures one name, and the file it holds.
func (r *Recorder) entry(full string, p *Point, seen map[uint64]bool) (Entry, error) {
	e, st, regular, err := lstatEntry(full)
	if !regular || err != nil {
		return e, err
	}
	id := r.ids[st.Ino]
	if !seen[st.Ino] {
		id = r.id(st.Ino, r.live[st.Ino])
		seen[st.Ino] = true
	}
	if _, ok := p.Files[id]; !ok {
		stamp := fileStamp{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		if old, ok := r.prev[st.Ino]; ok && old.size == stamp.size && old.mtime == stamp.mtime && old.ctime == stamp.ctime && old.ctime < old.read-settled {
			p.Files[id] = old.f
		} else {
			stamp.read = time.Now().UnixNano()
			f, err := r.read(full)
			if err != nil {
				return Entry{}, err
			}
			stamp.f = f
			r.prev[st.Ino] = stamp
			p.Files[id] = f
		}
	}
	return Entry{Ino: id}, nil
}

// id is the identity of inode number ino: the same as at the last point
// when it was named there (wasLive), a new one when the number was named
// before, freed, and is used again.
func (r *Recorder) id(ino uint64, wasLive bool) uint64 {
	cur, ok := r.ids[ino]
	switch {
	case !ok:
		cur = ino
	case !wasLive:
		r.nextGen++
		cur = ino | r.nextGen<<48
	}
	r.ids[ino] = cur
	return cur
}

// read classifies every page of the file at path.
func (r *Recorder) read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f := &File{}
	var off int64
	for {
		n, err := fh.ReadAt(r.buf, off)
		for i := 0; i < n; i += PageSize {
			f.Pages = append(f.Pages, r.classify(r.buf[i:min(i+PageSize, n)], off+int64(i)))
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	f.Size = off
	return f, nil
}

// classify finds the source of page b at offset off.
func (r *Recorder) classify(b []byte, off int64) Page {
	for _, v := range []struct {
		src  Source
		data []byte
	}{{FromOld, r.old}, {FromNew, r.new}} {
		if off+int64(len(b)) <= int64(len(v.data)) && bytes.Equal(b, v.data[off:off+int64(len(b))]) {
			return Page{Src: v.src}
		}
	}
	if isZero(b) {
		return Page{Src: FromZero}
	}
	h := maphash.Bytes(r.seed, b)
	for _, i := range r.blobIdx[h] {
		if bytes.Equal(r.blobs[i], b) {
			return Page{Src: FromBlob, Blob: i}
		}
	}
	i := int32(len(r.blobs))
	r.blobs = append(r.blobs, bytes.Clone(b))
	r.blobIdx[h] = append(r.blobIdx[h], i)
	return Page{Src: FromBlob, Blob: i}
}

// tear returns page i holding a's sectors where mask has a 0 bit and b's
// where it has a 1 (bit s: sector s of the block): a block torn by a power
// cut at sector granularity. Bytes past a shorter source's end are zeros.
func (r *Recorder) tear(a, b Page, i int, mask uint8) Page {
	x, y := r.bytesOf(a, i), r.bytesOf(b, i)
	buf := make([]byte, max(len(x), len(y)))
	for s := 0; s*SectorSize < len(buf); s++ {
		src := x
		if mask&(1<<s) != 0 {
			src = y
		}
		lo, hi := s*SectorSize, min((s+1)*SectorSize, len(buf))
		if lo < len(src) {
			copy(buf[lo:hi], src[lo:min(hi, len(src))])
		}
	}
	return r.classify(buf, int64(i)*PageSize)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// bytesOf returns the bytes of page p at index i (up to PageSize; fewer
// when the source ends there): what a state holding it writes.
func (r *Recorder) bytesOf(p Page, i int) []byte {
	off := int64(i) * PageSize
	switch p.Src {
	case FromOld, FromNew:
		d := r.old
		if p.Src == FromNew {
			d = r.new
		}
		if off >= int64(len(d)) {
			return nil
		}
		return d[off:min(off+PageSize, int64(len(d)))]
	case FromBlob:
		return r.blobs[p.Blob]
	}
	return nil
}
