package powerloss

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/logwrites"
)

// Checker is a model that can tell whether a state is one of its own.
type Checker interface {
	// Allows says whether state s is one the model allows after some
	// point k of trace t, and which (the first k found; m is the point
	// whose names and sizes s holds).
	Allows(t *Trace, s Recipe) (k, m int, ok bool)
}

// Allows finds a crash point k and a metadata point m whose state, under
// the model, is s: the names as after m, every file's in-place pages among
// its versions since its last fsync, its new pages a prefix of those at m
// (or each data or zeros after auto_da_alloc).
func (e Ext4Ordered) Allows(t *Trace, s Recipe) (int, int, bool) {
	for k := range t.Points {
		for m := t.anySync(k); m <= k; m++ {
			if e.fits(t, s, k, m) {
				return k, m, true
			}
		}
	}
	return 0, 0, false
}

// fits reports whether s is a state of crash point k with metadata point m.
func (e Ext4Ordered) fits(t *Trace, s Recipe, k, m int) bool {
	want := t.Points[m].Entries
	if len(want) != len(s.Names) {
		return false
	}
	var efs map[uint64]ext4File
	for n, w := range want {
		g, ok := s.Names[n]
		if !ok || g.Dir != w.Dir || g.Link != w.Link || (g.Ino != 0) != (w.Ino != 0) {
			return false
		}
		if w.Ino == 0 {
			continue
		}
		if efs == nil {
			efs = e.files(t, k, m)
		}
		if !efs[w.Ino].fits(s.Files[g.Ino]) {
			return false
		}
	}
	return true
}

// fits reports whether f is one of the contents ef allows.
func (ef ext4File) fits(f *File) bool {
	in := len(ef.inplace)
	if f == nil || len(f.Pages) < in {
		return false
	}
	for i, ch := range ef.inplace {
		if !slices.Contains(ch, f.Pages[i]) {
			return false
		}
	}
	v := ef.v
	if ef.trigger {
		if f.Size != v.Size || len(f.Pages) != len(v.Pages) {
			return false
		}
		for i := in; i < len(v.Pages); i++ {
			if f.Pages[i] != v.Pages[i] && f.Pages[i] != (Page{Src: FromZero}) {
				return false
			}
		}
		return true
	}
	if len(f.Pages) > len(v.Pages) || !slices.Equal(f.Pages[in:], v.Pages[in:len(f.Pages)]) {
		return false
	}
	if len(f.Pages) == len(v.Pages) {
		return f.Size == v.Size
	}
	return f.Size == int64(len(f.Pages))*PageSize
}

// Snapshot records the watched directories as they are under root, a
// replay of the file system mounted elsewhere: dir d of the recording is
// read at root/<d relative to mount>. Names are relative to the target's
// directory as in a Point; each file is classified page by page as the
// recording classifies (old, new, zeros, other bytes), so it compares with
// the model's states. Files are keyed by inode number with the top bit
// set, apart from the recording's identities.
func (r *Recorder) Snapshot(mount, root string) (Recipe, error) {
	s := Recipe{Kind: "kernel", Names: map[string]Entry{}, Files: map[uint64]*File{}}
	for _, d := range r.dirs {
		rel, err := filepath.Rel(mount, d)
		if err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) > 1 && rel[:2] == ".." {
			return s, fmt.Errorf("kernel snapshot: %s lies outside the logged file system at %s", d, mount)
		}
		here := filepath.Join(root, rel)
		ents, err := os.ReadDir(here)
		if err != nil {
			return s, fmt.Errorf("kernel snapshot: %w", err)
		}
		for _, de := range ents {
			full := filepath.Join(here, de.Name())
			name, _ := filepath.Rel(r.dirs[0], filepath.Join(d, de.Name()))
			e, err := r.snapEntry(full, s.Files)
			if err != nil {
				return s, fmt.Errorf("kernel snapshot: %w", err)
			}
			s.Names[name] = e
		}
	}
	return s, nil
}

// snapEntry records one name of a replay, and its file into files.
func (r *Recorder) snapEntry(full string, files map[uint64]*File) (Entry, error) {
	e, st, regular, err := lstatEntry(full)
	if !regular || err != nil {
		return e, err
	}
	id := st.Ino | 1<<63
	if _, ok := files[id]; !ok {
		f, err := r.read(full)
		if err != nil {
			return Entry{}, err
		}
		files[id] = f
	}
	return Entry{Ino: id}, nil
}

// KernelLog is one update run on a file system over dm-log-writes: the
// log, the size of its data device, the mark after which the update began
// (the target laid out and synced before it), where the file system was
// mounted while the update ran, and which it is (FS: "ext4", the default,
// or "xfs"). Journal (nil: none) writes down each replay's mount and its
// loop device before it is made (a mounts.Set: a killed run's replay
// mounts are taken down by the next run).
type KernelLog struct {
	Log     *logwrites.Log
	Size    int64
	Mark    string
	Mount   string
	FS      string
	Journal logwrites.Journal
}

// KernelState is one distinct state the replays of a kernel's log left.
type KernelState struct {
	Recipe
	// Entry is the first log entry after which a replay found this state,
	// What that entry ("flush", "fua+metadata write", "write", "mark ..."),
	// Mark the last mark at or before it; Replays how many replays found it.
	// Lost lists the write entries before Entry the replay left out (they
	// never left the disk's volatile cache), nil for a replay of every one.
	Entry   int
	What    string
	Mark    string
	Replays int
	Lost    []int
	// Pages says, for a state the model does not allow, where the
	// target's pages come from ("pages 0-2456 of A; page 2457 of neither").
	Pages string
	// InModel: the model allows this state (after call #After, with the
	// names as after #Meta); when not, K is the last point.
	InModel     bool
	After, Meta int
}

// KernelReplay is what replaying one update's log found.
type KernelReplay struct {
	// Entries counts the log's entries from the mark to its end, Barriers
	// the flush and FUA entries among them, Replays the entries replayed
	// to (every barrier, the mark, the end, and points drawn between);
	// Mounted those that were mounted: a replay with no write since the
	// last one is the same device, so the same state.
	Entries, Barriers, Replays, Mounted int
	States                              []KernelState
	Duration                            time.Duration
}

// ReplayKernel replays kl's log onto a copy of its data device up to the
// mark, to every flush or FUA entry after it, to its end and to extra
// entries between them drawn from seed; mounts each (ext4 replays its
// journal, xfs recovers its log, as after a reboot) under scratch (which it owns), records the
// target's directory and asks model whether it allows the state.
func ReplayKernel(ctx context.Context, t *Trace, kl KernelLog, model Checker, scratch string, extra int, seed int64) (KernelReplay, error) {
	began := time.Now()
	from, ok := kl.Log.MarkIndex(kl.Mark)
	if !ok {
		return KernelReplay{}, fmt.Errorf("kernel log: no mark %q (the update's start)", kl.Mark)
	}
	out := KernelReplay{Entries: len(kl.Log.Entries) - from}
	points := replayPoints(kl.Log, from, extra, seed, &out.Barriers)
	if err := os.MkdirAll(filepath.Join(scratch, "mnt"), 0o755); err != nil {
		return out, err
	}
	rp, err := logwrites.NewReplayer(kl.Log, scratch, kl.Size)
	if err != nil {
		return out, err
	}
	defer rp.Close()
	target := filepath.Base(t.rec.target)
	seen := map[uint64]int{}
	var last Recipe
	prev := -1
	for _, pt := range points {
		s := last
		if pt.keep != nil || prev < 0 || writesBetween(kl.Log, prev, pt.i) {
			var err error
			if s, err = replayOne(ctx, rp, t, kl, pt, filepath.Join(scratch, "mnt")); err != nil {
				return out, err
			}
			out.Mounted++
		}
		if pt.keep == nil {
			last, prev = s, pt.i
		}
		out.Replays++
		h := t.key(s, target)
		if j, ok := seen[h]; ok {
			out.States[j].Replays++
			continue
		}
		seen[h] = len(out.States)
		out.States = append(out.States, kernelState(t, kl.Log, model, s, pt))
	}
	out.Duration = time.Since(began)
	return out, nil
}

// kernelState is the first replay that left state s, matched against model.
func kernelState(t *Trace, l *logwrites.Log, model Checker, s Recipe, pt replayPoint) KernelState {
	ks := KernelState{Recipe: s, Entry: pt.i, What: l.Entry(max(pt.i, 1)).Kind(), Mark: l.MarkBefore(pt.i), Replays: 1}
	if pt.keep != nil {
		ks.Lost = pt.lost
		ks.What = fmt.Sprintf("%s; of the %d writes since the flush at entry %d, %d lost (entries %s)", ks.What, len(pt.keep)+len(pt.lost), pt.base, len(pt.lost), ints(pt.lost))
	}
	ks.K = len(t.Points) - 1
	ref := ks.K
	if k, m, ok := model.Allows(t, s); ok {
		ks.K, ks.InModel, ks.After, ks.Meta, ref = k, true, t.Points[k].N, t.Points[m].N, m
	}
	k := ks.K // adopt gives the snapshot's K (0) back: keep the point found
	ks.Recipe = t.adopt(s, ref)
	ks.Recipe.K = k
	if !ks.InModel {
		ks.Pages = pageRuns(t.fileAt(s, filepath.Base(t.rec.target)))
	}
	return ks
}

// pageRuns says where the pages of f come from, run by run.
func pageRuns(f *File) string {
	if f == nil {
		return "no target"
	}
	word := map[Source]string{FromZero: "zeros", FromOld: "the old version", FromNew: "the new version", FromBlob: "neither"}
	var parts []string
	for i := 0; i < len(f.Pages); {
		j := i
		for j+1 < len(f.Pages) && f.Pages[j+1].Src == f.Pages[i].Src {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprintf("page %d: %s", i, word[f.Pages[i].Src]))
		} else {
			parts = append(parts, fmt.Sprintf("pages %d-%d: %s", i, j, word[f.Pages[i].Src]))
		}
		i = j + 1
	}
	return fmt.Sprintf("%d bytes; %s", f.Size, strings.Join(parts, "; "))
}

// ints renders a list of entry numbers.
func ints(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// writesBetween reports whether an entry after from, up to to, changes
// the device (a write or a discard).
func writesBetween(l *logwrites.Log, from, to int) bool {
	for i := from + 1; i <= to; i++ {
		if e := l.Entry(i); e.Sectors > 0 && e.Flags&logwrites.FlagMark == 0 {
			return true
		}
	}
	return false
}

// replayPoint is one replay: the device after entry i (keep nil), or
// after the flush at entry base with only the writes keep of those up to
// entry i (the others, lost, never left the disk's volatile cache).
type replayPoint struct {
	i, base    int
	keep, lost []int
}

// replayPoints are the replays: to the mark, every barrier after it, the
// end, and extra entries drawn from seed; then extra/2 drawn entries with
// a subset of the writes since the last flush before them lost (a FUA
// write is never lost). In the order the cursor can serve them.
func replayPoints(l *logwrites.Log, from, extra int, seed int64, barriers *int) []replayPoint {
	pts := []int{from, len(l.Entries)}
	var others []int
	for i := from + 1; i <= len(l.Entries); i++ {
		if l.Entry(i).Barrier() {
			pts = append(pts, i)
			*barriers++
		} else {
			others = append(others, i)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6c6f67))
	pool := slices.Clone(others)
	for range min(extra, len(pool)) {
		j := rng.IntN(len(pool))
		pts = append(pts, pool[j])
		pool = slices.Delete(pool, j, j+1)
	}
	slices.Sort(pts)
	var out []replayPoint
	for _, i := range slices.Compact(pts) {
		out = append(out, replayPoint{i: i, base: i})
	}
	for range min(extra/2, len(others)) {
		if pt, ok := dropSome(l, from, others[rng.IntN(len(others))], rng); ok {
			out = append(out, pt)
		}
	}
	slices.SortStableFunc(out, func(a, b replayPoint) int { return a.base - b.base })
	return out
}

// dropSome draws which writes after the last flush before entry i (or
// from) reach the disk: each non-FUA write kept or lost, at least one lost.
func dropSome(l *logwrites.Log, from, i int, rng *rand.Rand) (replayPoint, bool) {
	base := from
	for j := i; j > from; j-- {
		if l.Entry(j).Flags&logwrites.FlagFlush != 0 {
			base = j
			break
		}
	}
	pt := replayPoint{i: i, base: base, keep: []int{}}
	for j := base + 1; j <= i; j++ {
		e := l.Entry(j)
		switch {
		case e.Sectors == 0 || e.Flags&logwrites.FlagMark != 0:
		case e.Flags&logwrites.FlagFUA != 0 || rng.IntN(2) == 0:
			pt.keep = append(pt.keep, j)
		default:
			pt.lost = append(pt.lost, j)
		}
	}
	return pt, len(pt.lost) > 0
}

// replayOne mounts the device as pt leaves it at mnt and records it.
func replayOne(ctx context.Context, rp *logwrites.Replayer, t *Trace, kl KernelLog, pt replayPoint, mnt string) (Recipe, error) {
	var img string
	var err error
	if pt.keep != nil {
		img, err = rp.ImageKeeping(ctx, pt.base, pt.keep)
	} else {
		img, err = rp.Image(ctx, pt.i)
	}
	if err != nil {
		return Recipe{}, err
	}
	fs := kl.FS
	if fs == "" {
		fs = "ext4"
	}
	if err := logwrites.MountFS(ctx, kl.Journal, fs, img, mnt, "loop"); err != nil {
		return Recipe{}, fmt.Errorf("replay to entry %d (%s): %w", pt.i, kl.Log.Entry(max(pt.i, 1)).Kind(), err)
	}
	s, err := t.rec.Snapshot(kl.Mount, mnt)
	if uerr := logwrites.Unmount(mnt); err == nil && uerr != nil {
		err = uerr
	}
	return s, err
}

// KernelUpdate is the kernel check of one update: what the replays found,
// each distinct state as the restarted readers found it (Judged in the
// order of Replay.States), and how much of the model's explored set the
// kernel produced.
type KernelUpdate struct {
	// Device says what ran ("xfs over dm-log-writes, Linux 6.1.0-..."),
	// Model the model the states were checked against.
	Device        string
	Model         string
	Replay        KernelReplay
	Judged        []Judged
	ModelStates   int
	ModelProduced int
	// NamesNotProduced are the names of explored model states that no
	// replay left.
	NamesNotProduced []string
}

// Coverage compares the model's explored states (judged: their names)
// with the kernel's: how many of them some replay left, and the names of
// model states no replay left.
func Coverage(t *Trace, ex Explored, judged []Judged, kr KernelReplay) (produced int, namesNot []string) {
	target := filepath.Base(t.rec.target)
	kernel, kernelNames := map[uint64]bool{}, map[string]bool{}
	for _, s := range kr.States {
		kernel[t.key(s.Recipe, target)] = true
	}
	for i, s := range ex.States {
		if kernel[t.key(s, target)] {
			produced++
			if i < len(judged) {
				kernelNames[judged[i].Name] = true
			}
		}
	}
	for i := range ex.States {
		if i < len(judged) && !kernelNames[judged[i].Name] && !slices.Contains(namesNot, judged[i].Name) {
			namesNot = append(namesNot, judged[i].Name)
		}
	}
	slices.Sort(namesNot)
	return produced, namesNot
}

// KernelRecipes are the states of kr, to Judge.
func (kr KernelReplay) KernelRecipes() Explored {
	ex := Explored{}
	for _, s := range kr.States {
		ex.States = append(ex.States, s.Recipe)
	}
	return ex
}

// adopt gives the files of snapshot s the identities the trace gave the
// same names at point m (a replay's inode numbers are the file system's
// own), so that what the state lost reads as it does for the model's.
func (t *Trace) adopt(s Recipe, m int) Recipe {
	out := Recipe{K: s.K, Kind: s.Kind, Names: map[string]Entry{}, Files: map[uint64]*File{}}
	ids := map[uint64]uint64{}
	for _, n := range sortedKeys(s.Names) {
		e := s.Names[n]
		if e.Ino != 0 {
			id, ok := ids[e.Ino]
			if !ok {
				id = e.Ino
				if w, ok := t.Points[m].Entries[n]; ok && w.Ino != 0 {
					id = w.Ino
				}
				ids[e.Ino] = id
				out.Files[id] = s.Files[e.Ino]
			}
			e.Ino = id
		}
		out.Names[n] = e
	}
	return out
}
