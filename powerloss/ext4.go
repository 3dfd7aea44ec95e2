package powerloss

import (
	"math/big"
	"math/rand/v2"
	"slices"
)

// Ext4Ordered is what ext4's default mount (data=ordered, delayed
// allocation, auto_da_alloc, dioread_nolock) allows after a power loss,
// narrower than Posix:
//
//   - metadata goes through one journal, committed in order: the names
//     and the sizes set by truncation are those after some point m between
//     the last barrier (an fsync commits the whole running transaction) and
//     the crash, never a mix;
//   - blocks a file already had (an overwrite in place) are written back in
//     any order: each page holds any version it had since the file's last
//     fsync (torn at block granularity);
//   - new blocks (appended, or after a truncation) are allocated at
//     writeback, and data=ordered commits a size only over written data:
//     the file is a prefix of its content at m (empty or short), never
//     zeros;
//   - except after auto_da_alloc: when the file was renamed over an existing
//     file, or truncated to zero and closed (here: the updater has exited),
//     ext4 allocates its blocks before that commit but does not wait for the
//     data: the file has its full size, each new page its data or zeros
//     (an unwritten extent not yet converted).
type Ext4Ordered struct{}

// Name is "ext4-ordered".
func (Ext4Ordered) Name() string { return "ext4-ordered" }

// ext4File is what one file may hold after a crash with metadata point m.
type ext4File struct {
	v       *File    // the version at m
	inplace [][]Page // per page below the in-place end, its choices
	trigger bool     // auto_da_alloc: full size, new pages data or zeros
}

func (Ext4Ordered) files(t *Trace, k, m int) map[uint64]ext4File {
	out := map[uint64]ext4File{}
	for _, e := range t.Points[m].Entries {
		if e.Ino == 0 {
			continue
		}
		if _, ok := out[e.Ino]; ok {
			continue
		}
		fs := t.fileSync(k, e.Ino)
		vm, vk := t.versions(e.Ino, fs, m), t.versions(e.Ino, fs, k)
		ef := ext4File{v: vm[len(vm)-1], trigger: t.autoDaAlloc(e.Ino, fs, m)}
		end := len(ef.v.Pages)
		for _, f := range vm {
			end = min(end, len(f.Pages))
		}
		for i := range end {
			ef.inplace = append(ef.inplace, pageChoices(vk, i))
		}
		for p, z := range t.truncTails(e.Ino, m, k) {
			if p < len(ef.inplace) && !slices.Contains(ef.inplace[p], z) {
				ef.inplace[p] = append(ef.inplace[p], z)
			}
		}
		out[e.Ino] = ef
	}
	return out
}

// truncTails lists, for file ino, the last pages a truncation to a
// smaller size after point m (and by k) left: ext4 zeroes the new last
// block past the new end (ext4_block_truncate_page) and, data=ordered,
// writes it before the transaction that shrinks the size commits, so with
// the size as at m the page may hold the new end and zeros after it (found
// by the kernel check: an inplace update to a smaller file).
func (t *Trace) truncTails(ino uint64, m, k int) map[int]Page {
	out := map[int]Page{}
	for j := m + 1; j <= k; j++ {
		f, ok := t.Points[j].Files[ino]
		g, okg := t.Points[j-1].Files[ino]
		if !ok || !okg || f.Size >= g.Size || f.Size%PageSize == 0 {
			continue
		}
		p := int(f.Size / PageSize)
		b := make([]byte, PageSize)
		copy(b, t.rec.bytesOf(f.Pages[p], p))
		out[p] = t.rec.classify(b, int64(p)*PageSize)
	}
	return out
}

// autoDaAlloc reports whether ext4's auto_da_alloc started writeback of
// ino after its last fsync (fs) and by point m: it replaced an existing
// file by a rename, or it was truncated to zero and closed (m is the last
// point: the updater has exited).
func (t *Trace) autoDaAlloc(ino uint64, fs, m int) bool {
	for j := fs + 1; j <= m; j++ {
		cur, prev := t.Points[j], t.Points[j-1]
		if f, ok := cur.Files[ino]; ok && m == len(t.Points)-1 {
			if g, ok := prev.Files[ino]; ok && f.Size == 0 && g.Size > 0 {
				return true
			}
		}
		_, existed := prev.Files[ino]
		for n, e := range cur.Entries {
			if p, ok := prev.Entries[n]; e.Ino == ino && existed && ok && p.Ino != 0 && p.Ino != ino {
				return true
			}
		}
	}
	return false
}

// Count sums, over the metadata points, the choices of every page.
func (m Ext4Ordered) Count(t *Trace, k int) *big.Int {
	total := new(big.Int)
	for mp := t.anySync(k); mp <= k; mp++ {
		n := big.NewInt(1)
		for _, ef := range m.files(t, k, mp) {
			for _, ch := range ef.inplace {
				times(n, len(ch))
			}
			fresh := len(ef.v.Pages) - len(ef.inplace)
			if ef.trigger {
				n.Lsh(n, uint(fresh))
			} else {
				times(n, fresh+1)
			}
		}
		total.Add(total, n)
	}
	return total
}

// build makes the file of ef with in-place pages from pick and fresh
// pages up to keep of them (the rest: beyond the size, or zeros after
// auto_da_alloc).
func (ef ext4File) build(pick func([]Page) Page, keep func(fresh int) int) *File {
	fresh := len(ef.v.Pages) - len(ef.inplace)
	n := keep(fresh)
	f := &File{Size: ef.v.Size}
	for _, ch := range ef.inplace {
		f.Pages = append(f.Pages, pick(ch))
	}
	for i := len(ef.inplace); i < len(ef.v.Pages); i++ {
		switch {
		case i-len(ef.inplace) < n:
			f.Pages = append(f.Pages, ef.v.Pages[i])
		case ef.trigger:
			f.Pages = append(f.Pages, Page{Src: FromZero})
		}
	}
	if !ef.trigger && len(f.Pages) < len(ef.v.Pages) {
		f.Size = int64(len(f.Pages)) * PageSize
	}
	return f
}

// Corners are, for every metadata point: the oldest data (in-place pages
// as at the last fsync, no new block written), half the new blocks
// written, and everything written.
func (m Ext4Ordered) Corners(t *Trace, k int) []Recipe {
	var out []Recipe
	oldest := func(ch []Page) Page { return ch[0] }
	newest := func(ch []Page) Page { return ch[len(ch)-1] }
	for mp := k; mp >= t.anySync(k); mp-- {
		efs := m.files(t, k, mp)
		for _, c := range []struct {
			pick func([]Page) Page
			keep func(int) int
		}{
			{oldest, func(int) int { return 0 }},
			{newest, func(n int) int { return n / 2 }},
			{newest, func(n int) int { return n }},
		} {
			r := Recipe{K: k, Kind: "crash", Names: t.Points[mp].Entries, Files: map[uint64]*File{}}
			for ino, ef := range efs {
				r.Files[ino] = ef.build(c.pick, c.keep)
			}
			out = append(out, r)
		}
	}
	return out
}

// Random draws a metadata point, then every in-place page among its
// versions, and the fresh pages written (a prefix, or each data or zeros
// after auto_da_alloc).
func (m Ext4Ordered) Random(t *Trace, k int, rng *rand.Rand) Recipe {
	m0 := t.anySync(k)
	mp := m0 + rng.IntN(k-m0+1)
	efs := m.files(t, k, mp)
	r := Recipe{K: k, Kind: "crash", Names: t.Points[mp].Entries, Files: map[uint64]*File{}}
	for _, ino := range stable(t, efs) {
		ef := efs[ino]
		pick := func(ch []Page) Page { return ch[rng.IntN(len(ch))] }
		if ef.trigger {
			f := ef.build(pick, func(n int) int { return n })
			for i := len(ef.inplace); i < len(f.Pages); i++ {
				if rng.IntN(2) == 0 {
					f.Pages[i] = Page{Src: FromZero}
				}
			}
			r.Files[ino] = f
			continue
		}
		r.Files[ino] = ef.build(pick, func(n int) int { return rng.IntN(n + 1) })
	}
	return r
}
