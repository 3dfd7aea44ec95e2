package powerloss

import (
	"bytes"
	"slices"
)

// Allows finds a crash point k after which s is a state the model allows:
// every name of the watched directories one of the values it had since its
// directory's last fsync (absent included), every file's size one the
// model allows, each page one of its choices (a version's page, or zeros
// where a version lacked it) or a block torn at sector granularity between
// two of them. m is the latest point by k whose names are the ones s
// holds, k itself when no point holds that mix.
func (p Posix) Allows(t *Trace, s Recipe) (int, int, bool) {
	for k := range t.Points {
		pp := p.point(t, k)
		if pick, ok := pp.names(t, s); ok {
			return k, t.namesPoint(k, s, pick), true
		}
	}
	return 0, 0, false
}

// names matches the names of s with pp's values: each of s's files with an
// inode of the trace it may be (the same file of s always the same inode),
// every name s lacks allowed to be absent. It returns the inode chosen for
// each of s's files.
func (pp posixPoint) names(t *Trace, s Recipe) (map[uint64]uint64, bool) {
	for n, vs := range pp.vals {
		if _, ok := s.Names[n]; !ok && !slices.Contains(vs, value{}) {
			return nil, false
		}
	}
	order := sortedKeys(s.Names)
	for _, n := range order {
		if _, ok := pp.vals[n]; !ok {
			return nil, false // a name the trace never had by k
		}
	}
	m := posixMatch{t: t, pp: pp, s: s, order: order, pick: map[uint64]uint64{}, taken: map[uint64]bool{}, fits: map[[2]uint64]bool{}}
	if !m.from(0) {
		return nil, false
	}
	return m.pick, true
}

// posixMatch is the search for one inode of the trace per file of s.
type posixMatch struct {
	t     *Trace
	pp    posixPoint
	s     Recipe
	order []string
	pick  map[uint64]uint64  // s's file -> the trace's inode
	taken map[uint64]bool    // the trace's inodes picked
	fits  map[[2]uint64]bool // memo: s's file, the trace's inode
}

// from matches the names order[i:], backtracking.
func (m *posixMatch) from(i int) bool {
	if i == len(m.order) {
		return true
	}
	g := m.s.Names[m.order[i]]
	for _, v := range m.pp.vals[m.order[i]] {
		w := v.e
		if !v.ok || w.Dir != g.Dir || w.Link != g.Link || (w.Ino != 0) != (g.Ino != 0) {
			continue
		}
		if w.Ino == 0 {
			if m.from(i + 1) {
				return true
			}
			continue
		}
		if ino, ok := m.pick[g.Ino]; ok {
			if ino == w.Ino && m.from(i+1) {
				return true
			}
			continue
		}
		if m.taken[w.Ino] || !m.fileFits(g.Ino, w.Ino) {
			continue
		}
		m.pick[g.Ino], m.taken[w.Ino] = w.Ino, true
		if m.from(i + 1) {
			return true
		}
		delete(m.pick, g.Ino)
		delete(m.taken, w.Ino)
	}
	return false
}

// fileFits reports, once per pair, whether s's file id may be inode ino.
func (m *posixMatch) fileFits(id, ino uint64) bool {
	key := [2]uint64{id, ino}
	ok, done := m.fits[key]
	if !done {
		ok = m.pp.fileFits(m.t, ino, m.s.Files[id])
		m.fits[key] = ok
	}
	return ok
}

// fileFits reports whether f is a content inode ino may have: a size among
// pp.sizes, each page among its choices or a sector tear of two of them.
func (pp posixPoint) fileFits(t *Trace, ino uint64, f *File) bool {
	if f == nil || !slices.Contains(pp.sizes[ino], f.Size) || len(f.Pages) != pagesOf(f.Size) {
		return false
	}
	for i, pg := range f.Pages {
		ch := pp.choices(ino, i)
		if len(ch) == 0 {
			ch = []Page{{Src: FromZero}}
		}
		if slices.Contains(ch, pg) {
			continue
		}
		n := min(PageSize, int(f.Size-int64(i)*PageSize))
		if !t.rec.torn(pad(t.rec.bytesOf(pg, i), n), ch, i) {
			return false
		}
	}
	return true
}

// torn reports whether b, page i of a file cut to len(b) bytes, holds in
// each sector that sector of one of two of the choices ch (one choice whole
// included): what a power cut inside a block may leave. Bytes past a
// choice's end are zeros, as Recorder.tear makes them.
func (r *Recorder) torn(b []byte, ch []Page, i int) bool {
	srcs := make([][]byte, len(ch))
	for j, c := range ch {
		srcs[j] = pad(r.bytesOf(c, i), len(b))
	}
	for a := range srcs {
		for c := a; c < len(srcs); c++ {
			if sectorsOf(b, srcs[a], srcs[c]) {
				return true
			}
		}
	}
	return false
}

// sectorsOf reports whether each sector of b equals that of x or of y.
func sectorsOf(b, x, y []byte) bool {
	for lo := 0; lo < len(b); lo += SectorSize {
		hi := min(lo+SectorSize, len(b))
		if !bytes.Equal(b[lo:hi], x[lo:hi]) && !bytes.Equal(b[lo:hi], y[lo:hi]) {
			return false
		}
	}
	return true
}

// pad is b cut or padded with zeros to n bytes.
func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// namesPoint is the latest point j <= k at which every name of the watched
// directories is as in s (the files of s as pick maps them), k if none.
func (t *Trace) namesPoint(k int, s Recipe, pick map[uint64]uint64) int {
	for j := k; j >= 0; j-- {
		if t.namesAre(j, s, pick) {
			return j
		}
	}
	return k
}

// namesAre reports whether the names at point j are those of s.
func (t *Trace) namesAre(j int, s Recipe, pick map[uint64]uint64) bool {
	es := t.Points[j].Entries
	if len(es) != len(s.Names) {
		return false
	}
	for n, g := range s.Names {
		w, ok := es[n]
		if !ok || w.Dir != g.Dir || w.Link != g.Link || (g.Ino != 0 && pick[g.Ino] != w.Ino) || (g.Ino == 0) != (w.Ino == 0) {
			return false
		}
	}
	return true
}
