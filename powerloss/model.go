package powerloss

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"slices"
)

// Model is a persistence model: which states of the watched directories a
// power loss right after point k of a trace may leave on disk.
type Model interface {
	// Name is the model's word in flags and reports: "posix", "ext4-ordered".
	Name() string
	// Count is how many states a crash after point k may leave (an upper
	// bound: a state reached two ways is counted twice).
	Count(t *Trace, k int) *big.Int
	// Corners are the states that decide most (everything since the last
	// barrier lost, names kept but data lost, ...), the same every run.
	Corners(t *Trace, k int) []Recipe
	// Random draws one state of point k from rng.
	Random(t *Trace, k int, rng *rand.Rand) Recipe
}

// Models lists the models by name, in the order `--model` names them.
func Models() []Model { return []Model{Posix{}, Ext4Ordered{}} }

// ModelNamed returns the model called name, or an error naming the known ones.
func ModelNamed(name string) (Model, error) {
	for _, m := range Models() {
		if m.Name() == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("unknown persistence model %q: want posix or ext4-ordered", name)
}

// Trace is the captured points of one stepped update.
type Trace struct {
	Points []Point
	rec    *Recorder
	rank   map[uint64]int // each inode's order of first appearance
}

// NewTrace is the trace r recorded.
func NewTrace(r *Recorder) *Trace {
	t := &Trace{Points: r.Points, rec: r, rank: map[uint64]int{}}
	for _, p := range t.Points {
		for _, n := range sortedKeys(p.Entries) {
			if ino := p.Entries[n].Ino; ino != 0 {
				if _, ok := t.rank[ino]; !ok {
					t.rank[ino] = len(t.rank)
				}
			}
		}
	}
	return t
}

// stable lists the inodes that are keys of m in the order they first
// appear in the trace: inode numbers differ from run to run, and a seeded
// draw must visit the files in the same order every run.
func stable[V any](t *Trace, m map[uint64]V) []uint64 {
	out := make([]uint64, 0, len(m))
	for ino := range m {
		out = append(out, ino)
	}
	slices.SortFunc(out, func(a, b uint64) int { return t.rank[a] - t.rank[b] })
	return out
}

// Recipe is one crash state: the names of the watched directories and the
// content of every file they name.
type Recipe struct {
	// K is the point the crash follows; Kind is "prefix" (every completed
	// call persisted) or "crash" (something was lost).
	K     int
	Kind  string
	Names map[string]Entry
	Files map[uint64]*File
}

// lastSync is the last point j <= k at which match holds, 0 if none:
// before the update everything is durable.
func (t *Trace) lastSync(k int, match func(p Point) bool) int {
	for j := k; j > 0; j-- {
		if p := t.Points[j]; p.Sync == SyncAll || match(p) {
			return j
		}
	}
	return 0
}

func (t *Trace) dirSync(k int, dir string) int {
	return t.lastSync(k, func(p Point) bool { return p.Sync == SyncDir && p.Dir == dir })
}

func (t *Trace) fileSync(k int, ino uint64) int {
	return t.lastSync(k, func(p Point) bool { return p.Sync == SyncFile && p.Ino == ino })
}

func (t *Trace) anySync(k int) int {
	return t.lastSync(k, func(p Point) bool { return p.Sync == SyncFile || p.Sync == SyncDir })
}

// dirOf is the directory of a name.
func (t *Trace) dirOf(name string) string { return filepath.Dir(filepath.Join(t.rec.Dir(), name)) }

// names lists every name the directories hold at some point in [from, to].
func (t *Trace) names(from, to int) []string {
	var out []string
	for j := from; j <= to; j++ {
		for n := range t.Points[j].Entries {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// value is a name's entry at one point, or absent.
type value struct {
	e  Entry
	ok bool
}

// values lists the distinct values of name over points [from, to], in
// order of first appearance.
func (t *Trace) values(name string, from, to int) []value {
	var out []value
	for j := from; j <= to; j++ {
		e, ok := t.Points[j].Entries[name]
		v := value{e, ok}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// versions lists the distinct contents of inode ino over points [from,
// to], oldest first; the first is the durable one: the content at from,
// or an empty file when ino did not exist then.
func (t *Trace) versions(ino uint64, from, to int) []*File {
	d, ok := t.Points[from].Files[ino]
	if !ok {
		d = &File{}
	}
	out := []*File{d}
	for j := from + 1; j <= to; j++ {
		if f, ok := t.Points[j].Files[ino]; ok && !f.same(out[len(out)-1]) {
			out = append(out, f)
		}
	}
	return out
}

// inodes lists the regular files named by any of vals.
func inodes(vals map[string][]value) []uint64 {
	var out []uint64
	for _, vs := range vals {
		for _, v := range vs {
			if v.ok && v.e.Ino != 0 && !slices.Contains(out, v.e.Ino) {
				out = append(out, v.e.Ino)
			}
		}
	}
	slices.Sort(out)
	return out
}

// pagesOf is the number of pages of a file of size bytes.
func pagesOf(size int64) int { return int((size + PageSize - 1) / PageSize) }

// pageChoices lists the distinct contents page i may hold given versions
// vs: the page of every version that has it, and zeros when some version
// does not (its size grew without its data).
func pageChoices(vs []*File, i int) []Page {
	var out []Page
	zero := false
	for _, f := range vs {
		if i < len(f.Pages) {
			if !slices.Contains(out, f.Pages[i]) {
				out = append(out, f.Pages[i])
			}
		} else {
			zero = true
		}
	}
	if zero && !slices.Contains(out, Page{Src: FromZero}) {
		out = append(out, Page{Src: FromZero})
	}
	return out
}

// maxPages is the largest page count of vs.
func maxPages(vs []*File) int {
	n := 0
	for _, f := range vs {
		n = max(n, len(f.Pages))
	}
	return n
}

// prefix is the state in which every call up to k persisted.
func (t *Trace) prefix(k int) Recipe {
	p := t.Points[k]
	return Recipe{K: k, Kind: "prefix", Names: p.Entries, Files: p.Files}
}

// times multiplies n by m.
func times(n *big.Int, m int) *big.Int { return n.Mul(n, big.NewInt(int64(m))) }
