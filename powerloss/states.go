package powerloss

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
)

// Explored is the crash states chosen for one update.
type Explored struct {
	// States are the distinct states to open, each once (distinct for a
	// reader: the target's content and the names there): the prefix
	// states first (nothing lost after point k), then the model's corners
	// and seeded draws, in an order that depends on the seed alone.
	States []Recipe
	// Exist is how many states the model allows over all crash points (an
	// upper bound: a state reached from two points counts twice), prefix
	// states included.
	Exist *big.Int
	// Sampled: the budget was reached, so there may be more distinct
	// states than were opened (the later ones drawn from the seed).
	Sampled bool
}

// Explore chooses at most budget distinct states of trace t under model m,
// the same ones for the same seed: the states before and after the update,
// the model's corners after the last call, then the other prefix states
// and corners, and draws from the seed.
func Explore(ctx context.Context, t *Trace, m Model, budget int, seed int64) (Explored, error) {
	K := len(t.Points) - 1
	target := filepath.Base(t.rec.target)
	ex := Explored{Exist: new(big.Int)}
	for k := 0; k <= K; k++ {
		ex.Exist.Add(ex.Exist, m.Count(t, k))
	}
	seen := map[uint64]bool{}
	add := func(r Recipe) bool {
		if len(ex.States) >= budget {
			return false
		}
		h := t.key(r, target)
		if seen[h] {
			return true
		}
		seen[h] = true
		ex.States = append(ex.States, r)
		return true
	}
	first := []Recipe{t.prefix(0), t.prefix(K)}
	first = append(first, m.Corners(t, K)...)
	var rest []Recipe
	for k := K - 1; k >= 1; k-- {
		rest = append(rest, t.prefix(k))
		rest = append(rest, m.Corners(t, k)...)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x706f776572))
	for _, r := range first {
		add(r)
	}
	// Three quarters of the budget for the fixed states, the rest drawn.
	fixed := max(len(ex.States), budget*3/4)
	for _, r := range rest {
		if len(ex.States) >= fixed {
			break
		}
		add(r)
	}
	for try := 0; try < budget*8 && len(ex.States) < budget; try++ {
		if err := ctx.Err(); err != nil {
			return ex, err
		}
		add(m.Random(t, rng.IntN(K+1), rng))
	}
	for _, r := range rest {
		if !add(r) {
			break
		}
	}
	ex.Sampled = len(ex.States) >= budget
	return ex, ctx.Err()
}

// key hashes what a restarted reader can tell apart in a state: every
// name and what it is, and the content of the file the target (name
// target) resolves to. Two states that differ only in the bytes of a
// leftover temporary file are one state.
func (t *Trace) key(r Recipe, target string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, n := range sortedKeys(r.Names) {
		e := r.Names[n]
		fmt.Fprintf(h, "%s\x00%s\x00%t\x00%t\x00", n, e.Link, e.Dir, e.Ino != 0)
	}
	if f := t.fileAt(r, target); f != nil {
		binary.LittleEndian.PutUint64(b[:], uint64(f.Size))
		h.Write(b[:])
		for _, p := range f.Pages {
			binary.LittleEndian.PutUint32(b[:4], uint32(p.Blob))
			b[4] = byte(p.Src)
			h.Write(b[:5])
		}
	}
	return h.Sum64()
}

// Lost says, in words, what the state lost against the prefix state of
// its crash point: entries as after an earlier call, file sizes and pages
// that did not reach the disk.
func (t *Trace) Lost(r Recipe) string {
	now := t.Points[r.K]
	var parts []string
	names := append(sortedKeys(r.Names), sortedKeys(now.Entries)...)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		e, ok := r.Names[n]
		if en, okn := now.Entries[n]; ok == okn && e == en {
			continue
		}
		parts = append(parts, t.entryLost(n, value{e, ok}, r.K))
	}
	for _, n := range t.targetFirst(r) {
		e := r.Names[n]
		f, g := r.Files[e.Ino], now.Files[e.Ino]
		if e.Ino == 0 || f == nil || g == nil || f.same(g) || !t.firstName(r, n) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q: %s", n, dataLost(f, g)))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// targetFirst lists the names of r in order, the target's first.
func (t *Trace) targetFirst(r Recipe) []string {
	target := filepath.Base(t.rec.target)
	names := sortedKeys(r.Names)
	if i := slices.Index(names, target); i > 0 {
		names = append(append([]string{target}, names[:i]...), names[i+1:]...)
	}
	return names
}

// firstName reports whether n is the first name of its inode in r, the
// target's name coming first.
func (t *Trace) firstName(r Recipe, n string) bool {
	for _, m := range t.targetFirst(r) {
		if r.Names[m].Ino == r.Names[n].Ino {
			return m == n
		}
	}
	return false
}

// entryLost says which change of name n the state lost.
func (t *Trace) entryLost(n string, v value, k int) string {
	for j := k; j >= 0; j-- {
		e, ok := t.Points[j].Entries[n]
		if (value{e, ok}) == v && j < k {
			what := "the entry"
			if !v.ok {
				what = "no entry"
			}
			return fmt.Sprintf("%q: %s as after #%d (the change by #%d %s lost)", n, what, t.Points[j].N, t.Points[j+1].N, callName(t.Points[j+1].Call))
		}
	}
	return fmt.Sprintf("%q: entry lost", n)
}

// callName is the system call's name in a call's text.
func callName(text string) string {
	if i := strings.IndexByte(text, '('); i > 0 {
		return text[:i]
	}
	return text
}

// dataLost compares a file in a state (f) with the same file after every
// call persisted (g).
func dataLost(f, g *File) string {
	var zeros, older int
	for i, p := range f.Pages {
		switch {
		case i < len(g.Pages) && p == g.Pages[i]:
		case p.Src == FromZero:
			zeros++
		default:
			older++
		}
	}
	var parts []string
	if f.Size != g.Size {
		parts = append(parts, fmt.Sprintf("size %d instead of %d", f.Size, g.Size))
	}
	if zeros > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d pages read as zeros", zeros, len(f.Pages)))
	}
	if older > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d pages hold older data", older, len(f.Pages)))
	}
	return strings.Join(parts, ", ")
}

// Leftovers lists the names of a state that are there neither before the
// update nor after it (temporary files).
func (t *Trace) Leftovers(r Recipe) []string {
	first, last := t.Points[0].Entries, t.Points[len(t.Points)-1].Entries
	var out []string
	for _, n := range sortedKeys(r.Names) {
		_, a := first[n]
		_, b := last[n]
		if !a && !b {
			out = append(out, n)
		}
	}
	return out
}

// ZeroFilled reports whether the file the target names in r (following
// symlinks) has a size and only zeros.
func (t *Trace) ZeroFilled(r Recipe, target string) bool {
	f := t.fileAt(r, target)
	if f == nil || f.Size == 0 {
		return false
	}
	for _, p := range f.Pages {
		if p.Src != FromZero {
			return false
		}
	}
	return true
}

// fileAt is the file name resolves to in r, or nil.
func (t *Trace) fileAt(r Recipe, name string) *File {
	for range 8 {
		e, ok := r.Names[name]
		switch {
		case !ok:
			return nil
		case e.Ino != 0:
			return r.Files[e.Ino]
		case e.Link == "":
			return nil
		}
		name = t.rel(e.Link, name)
	}
	return nil
}
