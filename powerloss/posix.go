package powerloss

import (
	"math/big"
	"math/rand/v2"
	"slices"
)

// Posix is the worst a POSIX file system may do after a power loss, after
// ALICE's and LazyFS's models: since a file's last fsync (or fdatasync,
// or syncfs) each of its writes may persist or not, torn at block (4 KiB)
// and, inside a block, at sector (512 byte) granularity, and its size may
// persist without its data (zeros); a
// directory entry change (create, unlink, rename, symlink) persists only
// once its directory is fsynced, and each name independently keeps any
// value it had since; a rename is atomic for the name it replaces.
type Posix struct{}

// Name is "posix".
func (Posix) Name() string { return "posix" }

// posixPoint is what a crash after point k may choose from.
type posixPoint struct {
	k     int
	vals  map[string][]value      // per name, its possible entries (the durable one first)
	vers  map[uint64][]*File      // per inode, its versions since its last fsync (the durable one first)
	sizes map[uint64][]int64      // per inode, the sizes it may have
	tails map[uint64]map[int]Page // per inode, last pages a truncation zeroed past the new end
}

// choices lists what page i of inode ino may hold: any version's page,
// zeros, or the page a truncation zeroed past its new end.
func (pp posixPoint) choices(ino uint64, i int) []Page {
	ch := pageChoices(pp.vers[ino], i)
	if z, ok := pp.tails[ino][i]; ok && !slices.Contains(ch, z) {
		ch = append(ch, z)
	}
	return ch
}

func (Posix) point(t *Trace, k int) posixPoint {
	pp := posixPoint{k: k, vals: map[string][]value{}, vers: map[uint64][]*File{}, sizes: map[uint64][]int64{}, tails: map[uint64]map[int]Page{}}
	for _, n := range t.names(0, k) {
		vs := t.values(n, t.dirSync(k, t.dirOf(n)), k)
		if len(vs) == 1 && !vs[0].ok {
			continue
		}
		pp.vals[n] = vs
	}
	for _, ino := range inodes(pp.vals) {
		vs := t.versions(ino, t.fileSync(k, ino), k)
		pp.vers[ino] = vs
		pp.sizes[ino] = sizesOf(vs)
		pp.tails[ino] = t.truncTails(ino, t.fileSync(k, ino), k)
	}
	return pp
}

// sizesOf lists the sizes a file with versions vs may have: each
// version's, and every block boundary between the smallest and the
// largest (a large write extends the file block by block).
func sizesOf(vs []*File) []int64 {
	var out []int64
	lo, hi := vs[0].Size, vs[0].Size
	for _, f := range vs {
		if !slices.Contains(out, f.Size) {
			out = append(out, f.Size)
		}
		lo, hi = min(lo, f.Size), max(hi, f.Size)
	}
	own := len(out)
	for s := (lo/PageSize + 1) * PageSize; s < hi; s += PageSize {
		if !slices.Contains(out[:own], s) {
			out = append(out, s)
		}
	}
	return out
}

// Count multiplies the choices of every name, size and page.
func (m Posix) Count(t *Trace, k int) *big.Int {
	pp := m.point(t, k)
	n := big.NewInt(1)
	for _, vs := range pp.vals {
		times(n, len(vs))
	}
	for ino, vs := range pp.vers {
		times(n, len(pp.sizes[ino]))
		for i := range maxPages(vs) {
			c := len(pp.choices(ino, i))
			// each choice whole, or two of them mixed sector by sector
			times(n, c+c*(c-1)/2*(1<<(PageSize/SectorSize)-2))
		}
	}
	return n
}

// Corners are: every change since the last barriers lost; the entries
// persisted but no data; the entries and sizes persisted but no data
// (zeros); half of the data persisted; the data persisted but no entry.
func (m Posix) Corners(t *Trace, k int) []Recipe {
	pp := m.point(t, k)
	durable, latest := map[string]Entry{}, t.Points[k].Entries
	for n, vs := range pp.vals {
		if vs[0].ok {
			durable[n] = vs[0].e
		}
	}
	files := func(f func(vs []*File) *File) map[uint64]*File {
		out := map[uint64]*File{}
		for ino, vs := range pp.vers {
			out[ino] = f(vs)
		}
		return out
	}
	old := files(func(vs []*File) *File { return vs[0] })
	now := files(func(vs []*File) *File { return vs[len(vs)-1] })
	zeros := files(func(vs []*File) *File {
		last := vs[len(vs)-1]
		f := &File{Size: last.Size, Pages: make([]Page, len(last.Pages))}
		copy(f.Pages, vs[0].Pages[:min(len(vs[0].Pages), len(f.Pages))])
		return f
	})
	half := files(func(vs []*File) *File {
		last := vs[len(vs)-1]
		if len(vs) == 1 {
			return last // synced: nothing of it can be lost
		}
		return halfOf(vs)
	})
	return []Recipe{
		{K: k, Kind: "crash", Names: durable, Files: old},
		{K: k, Kind: "crash", Names: latest, Files: old},
		{K: k, Kind: "crash", Names: latest, Files: zeros},
		{K: k, Kind: "crash", Names: latest, Files: half},
		{K: k, Kind: "crash", Names: durable, Files: now},
	}
}

// Random chooses every name's entry, every file's size and every page
// uniformly among their choices.
func (m Posix) Random(t *Trace, k int, rng *rand.Rand) Recipe {
	pp := m.point(t, k)
	r := Recipe{K: k, Kind: "crash", Names: map[string]Entry{}, Files: map[uint64]*File{}}
	for _, n := range sortedKeys(pp.vals) {
		vs := pp.vals[n]
		if v := vs[rng.IntN(len(vs))]; v.ok {
			r.Names[n] = v.e
		}
	}
	for _, ino := range stable(t, pp.vers) {
		vs, sizes := pp.vers[ino], pp.sizes[ino]
		size := sizes[rng.IntN(len(sizes))]
		if rng.IntN(2) == 0 { // the versions' own sizes, as often as all boundaries
			size = vs[rng.IntN(len(vs))].Size
		}
		f := &File{Size: size, Pages: make([]Page, pagesOf(size))}
		var torn []int // pages that may tear inside the block
		for i := range f.Pages {
			ch := pp.choices(ino, i)
			if len(ch) == 0 {
				continue // zeros
			}
			f.Pages[i] = ch[rng.IntN(len(ch))]
			if len(ch) > 1 {
				torn = append(torn, i)
			}
		}
		m.tearSectors(t, pp, ino, f, torn, rng)
		r.Files[ino] = f
	}
	return r
}

// sectorTears bounds the blocks one drawn state tears inside (each becomes
// a page of its own bytes).
const sectorTears = 4

// tearSectors tears, in half of the draws, up to sectorTears of the pages
// listed in torn at sector granularity between two of their choices.
func (Posix) tearSectors(t *Trace, pp posixPoint, ino uint64, f *File, torn []int, rng *rand.Rand) {
	if len(torn) == 0 || rng.IntN(2) == 0 {
		return
	}
	for range min(sectorTears, len(torn)) {
		i := torn[rng.IntN(len(torn))]
		ch := pp.choices(ino, i)
		a := rng.IntN(len(ch))
		b := (a + 1 + rng.IntN(len(ch)-1)) % len(ch)
		mask := uint8(1 + rng.IntN(254)) // some sectors of each
		f.Pages[i] = t.rec.tear(ch[a], ch[b], i, mask)
	}
}

// halfOf is a file with versions vs (more than one) of which half the
// latest version's pages persisted, the others as durable (or zeros where
// the durable version has none), its size the smallest the model allows
// that holds those pages: a file that never shrank keeps its durable size
// (the Allows check found this corner cutting an in-place overwrite short,
// a size no call had set).
func halfOf(vs []*File) *File {
	last := vs[len(vs)-1]
	n := len(last.Pages) / 2
	size := last.Size
	for _, s := range sizesOf(vs) {
		if s >= min(last.Size, int64(n)*PageSize) && s < size {
			size = s
		}
	}
	f := &File{Size: size, Pages: make([]Page, pagesOf(size))}
	for i := range f.Pages {
		switch {
		case i < n:
			f.Pages[i] = last.Pages[i]
		case i < len(vs[0].Pages):
			f.Pages[i] = vs[0].Pages[i]
		}
	}
	return f
}

// sortedKeys lists the keys of m in order: a seeded draw must walk maps
// the same way every run (inodes go through stable instead).
func sortedKeys[K string | uint64, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
