package step

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// version is a pristine copy of one version of the target, summed page by
// page (CRC32C), so that a probe hashes the target instead of copying it.
type version struct {
	label string
	f     *os.File
	size  int64
	pages []uint32 // the last one may cover a partial page
}

func loadVersion(label, path string, page int) (*version, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", label, err)
	}
	v := &version{label: label, f: f}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("version %s: %w", label, err)
	}
	key := versionKey{st.Dev, st.Ino, st.Size, st.Mtim, st.Ctim, page}
	if pages, ok := versionSums.get(key); ok {
		v.pages, v.size = pages, st.Size
		return v, nil
	}
	if v.pages, v.size = pageSums(f, st.Size, page, make([]byte, 1<<20), nil); v.size != st.Size {
		f.Close()
		return nil, fmt.Errorf("version %s: %s: read %d of %d bytes: the file changed while it was read", label, path, v.size, st.Size)
	}
	versionSums.put(key, v.pages)
	return v, nil
}

// versionKey is a version file as it was summed: a file written since
// has another ctime (or size, or mtime).
type versionKey struct {
	dev, ino   uint64
	size       int64
	mtim, ctim unix.Timespec
	page       int
}

// sumCache keeps the page sums of the versions a process has loaded: a
// run steps each version pair again for every update and every writer.
type sumCache struct {
	mu sync.Mutex
	m  map[versionKey][]uint32
}

var versionSums = &sumCache{m: map[versionKey][]uint32{}}

func (c *sumCache) get(k versionKey) ([]uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[k]
	return p, ok
}

// put keeps the sums of a few versions (a run has two, each hard-linked
// from the fixture cache): past four it starts over.
func (c *sumCache) put(k versionKey, pages []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 4 {
		clear(c.m)
	}
	c.m[k] = pages
}

// pageCRC returns the CRC of the n bytes of page i, or false when the
// version has no such bytes.
func (v *version) pageCRC(i, page, n int) (uint32, bool) {
	off := int64(i) * int64(page)
	if i >= len(v.pages) || off+int64(n) > v.size {
		return 0, false
	}
	if int64(n) == min(int64(page), v.size-off) {
		return v.pages[i], true
	}
	b := make([]byte, n)
	if _, err := v.f.ReadAt(b, off); err != nil {
		return 0, false
	}
	return crc32.Checksum(b, castagnoli), true
}

// paddedCRC returns the CRC of the n bytes a mapping shows at page i of a
// file holding this version: its bytes, then zeros past its end. ok is
// false when the page lies wholly past the end (a read there faults).
func (v *version) paddedCRC(i, page, n int) (uint32, bool) {
	off := int64(i) * int64(page)
	if off >= v.size {
		return 0, false
	}
	have := int(min(int64(n), v.size-off))
	c, ok := v.pageCRC(i, page, have)
	if !ok {
		return 0, false
	}
	if have < n {
		c = crc32.Update(c, castagnoli, make([]byte, n-have))
	}
	return c, true
}

// Found is what a reader that opens the target finds.
type Found int

// What a starting reader can find.
const (
	FoundOld     Found = iota // the whole old version
	FoundNew                  // the whole new version
	FoundMissing              // no file: ENOENT, or a dangling symlink
	FoundEmpty                // a file of 0 bytes
	FoundPartial              // a strict prefix of a version
	FoundTorn                 // anything else: pages of both versions, or of neither
	FoundError                // the open failed for another reason
)

var foundNames = [...]string{"old", "new", "missing", "empty", "partial", "torn", "error"}

func (f Found) String() string {
	if f < 0 || int(f) >= len(foundNames) {
		return fmt.Sprintf("found(%d)", int(f))
	}
	return foundNames[f]
}

// MarshalText implements encoding.TextMarshaler.
func (f Found) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Whole reports whether f is a whole version, old or new.
func (f Found) Whole() bool { return f == FoundOld || f == FoundNew }

// StartingView is what a reader that opens the target now finds.
type StartingView struct {
	Found Found  `json:"found"`
	Size  int64  `json:"size"`
	Text  string `json:"text"` // "whole B", "empty file", "ENOENT (no file)" ...
	key   uint64
}

// RunningView is what a reader that mapped the target before the update
// can read through its mapping now.
type RunningView struct {
	Size int64 `json:"size"` // length of the mapping (the old file's size)
	// FaultAt is the first offset at which a read faults (a read there
	// raises SIGBUS), -1 when every page can be read.
	FaultAt int64  `json:"fault_at"`
	Pages   int    `json:"pages"`    // pages that can be read
	Changed int    `json:"changed"`  // of those, pages that differ from the old version
	FromNew int    `json:"from_new"` // of the changed ones, pages equal to the new version's
	Text    string `json:"text"`
	key     uint64
}

// Intact reports whether the mapping still shows the whole old version.
func (v RunningView) Intact() bool { return v.FaultAt < 0 && v.Changed == 0 }

// Outcome is what one reader strategy met in one role in one state.
type Outcome struct {
	Verdict verdicts.Verdict `json:"verdict"`
	// Tally counts the lookups by how they were answered; OpenErrors is 1
	// when the starting reader could not open the target.
	verdicts.Tally
	// Addr is the address of the first memory fault.
	Addr string `json:"addr,omitempty"`
	// Detail says what went wrong: the first event of the kind that
	// decided the verdict.
	Detail string `json:"detail,omitempty"`
	// Died says how a foreign reader's process ended during the probe
	// ("killed by SIGBUS"), Signal names the signal, Stderr is the end of
	// its stderr; Stuck: it stopped answering and was killed.
	Died   string `json:"died,omitempty"`
	Signal string `json:"signal,omitempty"`
	Stuck  bool   `json:"stuck,omitempty"`
	Stderr string `json:"stderr,omitempty"`

	faultDetail, wrongDetail, errorDetail, diedDetail string
}

// ReaderOutcome is what one reader strategy met in one state.
type ReaderOutcome struct {
	Reader   string  `json:"reader"`
	Running  Outcome `json:"running"`
	Starting Outcome `json:"starting"`
}

// observation is one probe's result.
type observation struct {
	running  RunningView
	starting StartingView
	readers  []ReaderOutcome
}

// prober looks at the target while the updater is stopped.
type prober struct {
	target   string
	page     int
	old, new *version
	regs     []readers.Registration
	oracle   fixtures.Oracle
	ips      []netip.Addr

	mapping []byte // the old file, mapped before the update
	mapDev  uint64
	mapIno  uint64
	// overlay: the target is on overlayfs, whose st_dev and st_ino stay
	// the same across a copy-up although the mapping keeps the lower file.
	overlay bool
	// running holds, per reader, the DB its running role reads, opened
	// before the update; readers whose running strategies are equal
	// share one (runShare[i] is the first reader of i's DB).
	running  []readers.DB
	runShare []int
	// fixedRun[k] is reader k's running outcome when its running DB
	// decodes a copy of the file it made when it was opened
	// (readers.LookupCode gives its buffer): the same bytes at every
	// state, so its lookups are judged once, as the target is opened, and
	// the copy is released before any probe makes one (running[k] is nil).
	fixedRun []*Outcome
	buf      []byte
	fileCRCs []uint32 // page CRCs of the target at the last starting probe
	// fileSize is how many bytes of the target that probe summed,
	// fileStatSize its size then (-1 when it summed none).
	fileSize, fileStatSize int64
	fileDev                uint64
	fileIno                uint64

	runCache   map[uint64][]Outcome // running outcomes by running view
	startCache map[uint64][]Outcome // starting outcomes by starting view
}

func newProber(target string, old, new *version, regs []readers.Registration, oracle fixtures.Oracle, lookups int, seed int64) *prober {
	p := &prober{target: target, page: os.Getpagesize(), old: old, new: new, regs: regs, oracle: oracle,
		buf: make([]byte, 1<<20), runCache: map[uint64][]Outcome{}, startCache: map[uint64][]Outcome{}}
	if oracle != nil {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x73746570))
		for range lookups {
			p.ips = append(p.ips, oracle.Sample(rng))
		}
	}
	return p
}

// open maps the target and opens every reader on it: the running readers,
// opened before the update begins.
func (p *prober) open() error {
	f, err := os.Open(p.target)
	if err != nil {
		return fmt.Errorf("open the target before the update: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat the target: %w", err)
	}
	if st.Size == 0 {
		return fmt.Errorf("the target %s is empty before the update", p.target)
	}
	p.mapDev, p.mapIno = st.Dev, st.Ino
	var sfs unix.Statfs_t
	p.overlay = unix.Fstatfs(int(f.Fd()), &sfs) == nil && uint32(sfs.Type) == unix.OVERLAYFS_SUPER_MAGIC
	p.mapping, err = unix.Mmap(int(f.Fd()), 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map the target: %w", err)
	}
	for i, r := range p.regs {
		s := runningStrategy(r)
		if j := slices.IndexFunc(p.regs[:i], func(o readers.Registration) bool { return sameStrategy(runningStrategy(o), s) }); j >= 0 {
			p.running, p.runShare = append(p.running, p.running[j]), append(p.runShare, p.runShare[j])
			continue
		}
		db, err := s.Open(p.target)
		if err != nil {
			p.close()
			return fmt.Errorf("running reader %s cannot open the target before the update: %w", r.Name, err)
		}
		p.running, p.runShare = append(p.running, db), append(p.runShare, i)
	}
	p.judgeCopies()
	return nil
}

// sameStrategy reports whether a and b are the same strategy: values of
// one comparable type that are equal. Two running readers opened with the
// same strategy on the same file before the update read the same bytes
// through the same code, so one DB (and one lookup of each IP) serves
// both; a strategy with state of its own (a foreign process) is never
// comparable.
func sameStrategy(a, b readers.Strategy) (same bool) {
	ta := reflect.TypeOf(a)
	if ta == nil || ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	defer func() {
		if recover() != nil {
			same = false // an interface field holding an uncomparable value
		}
	}()
	return a == b
}

// runningStrategy is how a running reader of r is opened. A mapped
// reader is opened without its own fault recovery: the probe recovers
// every fault itself and classifies it by r.PanicOnFault (a reader that
// recovers a fault would also refuse lookups until a reload, which step
// mode shows as the starting reader of that state).
func runningStrategy(r readers.Registration) readers.Strategy {
	if r.Mapped {
		return readers.Mmap{}
	}
	return r.Strategy
}

func (p *prober) close() {
	for i, db := range p.running {
		if p.runShare[i] == i && db != nil {
			db.Close()
		}
	}
	p.running, p.runShare, p.fixedRun = nil, nil, nil
	if p.mapping != nil {
		unix.Munmap(p.mapping)
		p.mapping = nil
	}
	p.release()
}

// releaseAbove is the size of a pair (both versions) above which the
// prober returns freed memory to the system after each probe that opened
// the target anew: a reader that reads the whole file (os.ReadFile) leaves
// a copy of it behind at each state, and the runtime hands such garbage
// back more slowly than probes make it (stepping cp and rename on a 256 MiB
// pair peaked at 2.7 GB, 6.6 times the pair).
const releaseAbove = 128 << 20

// release collects garbage and returns the freed memory to the system when
// the pair is large (releaseAbove). Below that it collects garbage when a
// reader read the file whole (the copy it leaves is the probe's garbage):
// paced by GOGC alone the heap would first grow to twice what is live, and
// at 16 MiB that made the harness's peak four times the pair; collected
// now, the next copy reuses the memory.
func (p *prober) release() {
	switch {
	case p.old.size+p.new.size > releaseAbove:
		debug.FreeOSMemory()
	case slices.ContainsFunc(p.regs, readsWhole):
		runtime.GC()
	}
}

// readsWhole reports whether r reads the target whole into memory when it
// opens it (it is not mapped, and it runs here, not as a foreign process).
func readsWhole(r readers.Registration) bool { return !r.Mapped && r.Command == nil }

// observe probes every view: the running mapping, a starting open, and
// every reader in both roles. Outcomes of a view seen before are reused:
// lookups are a pure function of the bytes.
func (p *prober) observe() observation {
	var o observation
	o.starting = p.startingView()
	o.running = p.runningView()
	if len(p.regs) == 0 {
		return o
	}
	// Each reader's lookups are independent (each has its own DB): they
	// run side by side, as many at a time as there are CPUs.
	var jobs []func()
	run, haveRun := p.runCache[o.running.key]
	if !haveRun {
		run = make([]Outcome, len(p.regs))
		// One job per running DB: its readers judge the same answers.
		for i := range p.regs {
			if p.runShare[i] != i {
				continue
			}
			if p.running[i] == nil { // judged once: see fixedRun
				for k := range p.regs {
					if p.runShare[k] == i {
						run[k] = *p.fixedRun[k]
					}
				}
				continue
			}
			jobs = append(jobs, func() {
				a := newAnswers(p, p.running[i])
				for k, r := range p.regs {
					if p.runShare[k] == i {
						run[k] = p.lookups(a, r)
					}
				}
			})
		}
		p.runCache[o.running.key] = run
	}
	start, haveStart := p.startCache[o.starting.key]
	if !haveStart {
		start = make([]Outcome, len(p.regs))
		jobs = append(jobs, p.startingJobs(start)...)
		p.startCache[o.starting.key] = start
	}
	parallel(jobs)
	if !haveStart {
		p.release()
	}
	for i, r := range p.regs {
		o.readers = append(o.readers, ReaderOutcome{Reader: r.Name, Running: run[i], Starting: start[i]})
	}
	return o
}

// judgeCopies judges the running readers whose DB decodes its own copy
// of the file (see fixedRun) and closes their DBs.
func (p *prober) judgeCopies() {
	p.fixedRun = make([]*Outcome, len(p.regs))
	for i, db := range p.running {
		if p.runShare[i] != i {
			continue
		}
		if _, buf := readers.LookupCode(db); buf == nil {
			continue
		}
		a := newAnswers(p, db)
		for k, r := range p.regs {
			if p.runShare[k] == i {
				o := p.lookups(a, r)
				p.fixedRun[k], p.running[k] = &o, nil
			}
		}
		db.Close()
	}
}

// parallel runs jobs, GOMAXPROCS at a time, and waits for them.
func parallel(jobs []func()) {
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			j()
		}()
	}
	wg.Wait()
}

// startingView opens the target as a starting reader would and says what
// it holds, page by page against both versions.
func (p *prober) startingView() StartingView {
	p.fileCRCs = p.fileCRCs[:0]
	p.fileDev, p.fileIno = 0, 0
	p.fileSize, p.fileStatSize = -1, -1
	via := ""
	if dest, err := os.Readlink(p.target); err == nil {
		via = fmt.Sprintf(" (link to %q)", dest)
	}
	f, err := os.Open(p.target)
	if err != nil {
		v := StartingView{Found: FoundError, Text: "open: " + errText(err)}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			v.Found, v.Text = FoundMissing, errText(err)+" (no file)"
			if via != "" {
				v.Text = errText(err) + via + ": dangling link"
			}
		}
		v.key = hashKey(uint64(v.Found), 0, v.Text)
		return v
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		v := StartingView{Found: FoundError, Text: "fstat: " + errText(err)}
		v.key = hashKey(uint64(v.Found), 0, v.Text)
		return v
	}
	p.fileDev, p.fileIno = st.Dev, st.Ino
	v := StartingView{Size: st.Size}
	if st.Size == 0 {
		v.Found, v.Text = FoundEmpty, "empty file"+via
		v.key = hashKey(uint64(v.Found), 0, v.Text)
		return v
	}
	h := crc32.New(castagnoli)
	var size int64 // what could be read
	p.fileCRCs, size = pageSums(f, st.Size, p.page, p.buf, p.fileCRCs)
	p.fileSize, p.fileStatSize = size, st.Size
	var eqOld, eqNew, both, neither int
	for i, c := range p.fileCRCs {
		n := int(min(int64(p.page), size-int64(i)*int64(p.page)))
		oc, okO := p.old.pageCRC(i, p.page, n)
		nc, okN := p.new.pageCRC(i, p.page, n)
		o, w := okO && oc == c, okN && nc == c
		switch {
		case o && w:
			both++
		case o:
			eqOld++
		case w:
			eqNew++
		default:
			neither++
		}
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
		h.Write(b[:])
	}
	pages := len(p.fileCRCs)
	switch {
	case size == p.old.size && eqOld+both == pages:
		v.Found, v.Text = FoundOld, "whole "+p.old.label
	case size == p.new.size && eqNew+both == pages:
		v.Found, v.Text = FoundNew, "whole "+p.new.label
	case size < p.new.size && eqNew+both == pages:
		v.Found, v.Text = FoundPartial, fmt.Sprintf("partial: the first %d of %d bytes of %s", size, p.new.size, p.new.label)
	case size < p.old.size && eqOld+both == pages:
		v.Found, v.Text = FoundPartial, fmt.Sprintf("partial: the first %d of %d bytes of %s", size, p.old.size, p.old.label)
	default:
		v.Found = FoundTorn
		v.Text = fmt.Sprintf("torn: %d bytes; %s", size, pageMix(eqNew, eqOld, neither, both, p.new.label, p.old.label))
	}
	v.Text += via
	v.key = hashKey(uint64(v.Found), uint64(size), v.Text) ^ uint64(h.Sum32())<<32
	return v
}

// sumWindow is how much of a file pageSums maps at a time: enough to
// make mapping cheaper than copying, little enough to keep the harness's
// resident set small with a large file.
const sumWindow = 8 << 20

// pageSums appends to crcs the CRC32C of each page of the first size
// bytes of f, and returns them with the number of bytes summed (fewer
// when the file is shorter than size now). It reads through a mapping, a
// window at a time (no copy), or, where that fails, with pread into buf.
func pageSums(f *os.File, size int64, page int, buf []byte, crcs []uint32) ([]uint32, int64) {
	n0 := len(crcs)
	var off int64
	for off < size {
		var ok bool
		if crcs, ok = mappedSums(f, off, min(size-off, sumWindow), page, crcs); !ok {
			break
		}
		off += min(size-off, sumWindow)
	}
	if off >= size {
		return crcs, size
	}
	crcs, off = crcs[:n0], 0
	for off < size {
		n, err := f.ReadAt(buf, off)
		for i := 0; i < n; i += page {
			crcs = append(crcs, crc32.Checksum(buf[i:min(i+page, n)], castagnoli))
		}
		off += int64(n)
		if err != nil || n == 0 {
			break
		}
	}
	return crcs, off
}

// mappedSums appends the page CRCs of n bytes of f at off (a multiple of
// the page size) read through a mapping; ok is false when the range
// cannot be mapped or read (the file shrank).
func mappedSums(f *os.File, off, n int64, page int, crcs []uint32) (out []uint32, ok bool) {
	m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return crcs, false
	}
	defer unix.Munmap(m)
	n0 := len(crcs)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			out, ok = crcs[:n0], false
		}
	}()
	for i := 0; i < len(m); i += page {
		crcs = append(crcs, crc32.Checksum(m[i:min(i+page, len(m))], castagnoli))
	}
	return crcs, true
}

// pageMix says where the pages of a torn file or mapping come from.
func pageMix(fromNew, fromOld, neither, both int, newLabel, oldLabel string) string {
	var parts []string
	if fromNew > 0 {
		parts = append(parts, fmt.Sprintf("%d pages of %s", fromNew, newLabel))
	}
	if fromOld > 0 {
		parts = append(parts, fmt.Sprintf("%d of %s", fromOld, oldLabel))
	}
	if both > 0 {
		parts = append(parts, fmt.Sprintf("%d the same in both", both))
	}
	if neither > 0 {
		parts = append(parts, fmt.Sprintf("%d of neither", neither))
	}
	return strings.Join(parts, ", ")
}

// runningView probes the mapping made before the update: where a read
// would fault, and which pages changed.
func (p *prober) runningView() RunningView {
	v := RunningView{Size: int64(len(p.mapping)), FaultAt: firstFault(p.mapping, p.page)}
	readable := len(p.mapping)
	if v.FaultAt >= 0 {
		readable = int(v.FaultAt)
	}
	h := crc32.New(castagnoli)
	// Pages of the same inode already summed from the file are reused
	// (never on overlayfs, where the same number may be another file).
	sameInode := !p.overlay && p.fileDev == p.mapDev && p.fileIno == p.mapIno
	for i := 0; i*p.page < readable; i++ {
		lo, hi := i*p.page, min((i+1)*p.page, readable)
		var c uint32
		if sameInode && i < len(p.fileCRCs) && hi-lo == p.page && int64(hi) <= fileSizeFromCRCs(p) {
			c = p.fileCRCs[i]
		} else {
			c = p.crcOfMapping(lo, hi)
		}
		v.Pages++
		if oc, ok := p.old.pageCRC(i, p.page, hi-lo); !ok || oc != c {
			v.Changed++
			if nc, ok := p.new.paddedCRC(i, p.page, hi-lo); ok && nc == c {
				v.FromNew++
			}
		}
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
		h.Write(b[:])
		if hi%sumWindow == 0 || hi == readable {
			// Pages summed through the mapping are dropped again, as in
			// populate.
			unix.Madvise(p.mapping[(hi-1)/sumWindow*sumWindow:hi], unix.MADV_DONTNEED)
		}
	}
	v.Text = v.describe(p.old.label, p.new.label)
	v.key = hashKey(uint64(v.FaultAt), uint64(v.Changed), v.Text) ^ uint64(h.Sum32())<<32
	return v
}

// fileSizeFromCRCs is the number of bytes the last starting probe read
// in whole pages.
func fileSizeFromCRCs(p *prober) int64 { return int64(len(p.fileCRCs)-1) * int64(p.page) }

// crcOfMapping sums mapping[lo:hi], which MADV_POPULATE_READ has just
// shown readable; a fault would still be recovered.
func (p *prober) crcOfMapping(lo, hi int) (c uint32) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			c = 0
		}
	}()
	return crc32.Checksum(p.mapping[lo:hi], castagnoli)
}

func (v RunningView) describe(oldLabel, newLabel string) string {
	mix := func() string {
		if v.Changed == v.Pages && v.FromNew == v.Pages {
			return fmt.Sprintf("shows %s's bytes in every page", newLabel)
		}
		return fmt.Sprintf("torn: %d of %d pages changed (%d of them %s's)", v.Changed, v.Pages, v.FromNew, newLabel)
	}
	switch {
	case v.FaultAt == 0:
		return "SIGBUS at offset 0"
	case v.FaultAt > 0 && v.Changed == 0:
		return fmt.Sprintf("SIGBUS from offset %d (of %d); below it %s intact", v.FaultAt, v.Size, oldLabel)
	case v.FaultAt > 0:
		return fmt.Sprintf("SIGBUS from offset %d (of %d); below it %s", v.FaultAt, v.Size, mix())
	case v.Changed == 0:
		return "whole " + oldLabel + " (intact)"
	}
	return mix()
}

// firstFault returns the first offset of m at which a read would fault,
// or -1: populate fails exactly where a read raises SIGBUS, and faults of
// a file mapping are a suffix (past the end of the file), so a binary
// search finds the first.
func firstFault(m []byte, page int) int64 {
	if len(m) == 0 || populate(m) {
		return -1
	}
	n := (len(m) + page - 1) / page
	lo, hi := 0, n // pages [0, lo) read fine; the first fault is in [lo, hi)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if populate(m[lo*page : mid*page]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	if populate(m[lo*page : min((lo+1)*page, len(m))]) {
		return int64(hi) * int64(page)
	}
	return int64(lo) * int64(page)
}

// answers are the lookups of the probe's IPs in one DB, made once each,
// in order, as readers ask for them: readers that share a DB judge the
// same answers, and each asks for as many as its verdict needs.
type answers struct {
	p  *prober
	db readers.DB
	js []readers.Judged
	// kept: a failed lookup's error, a wrong answer's reason, has been
	// kept whole; later ones are elided.
	kept map[verdicts.Answer]bool
	// odd: a lookup met a memory fault or another panic, where DBs that
	// otherwise answer alike may differ (sharedLookups).
	odd bool
}

func newAnswers(p *prober, db readers.DB) *answers {
	return &answers{p: p, db: db, kept: map[verdicts.Answer]bool{}}
}

// errElided stands in for the error of a failed lookup, or the reason of a
// wrong answer, after the first of its kind: only the first one's text is
// shown, and each of a torn file can hold megabytes of garbage.
var errElided = errors.New("another one (elided)")

// at returns the answer to the k-th IP, judged.
func (a *answers) at(k int) readers.Judged {
	for len(a.js) <= k {
		j := a.p.lookupOne(a.db, a.p.ips[len(a.js)])
		var pe *panicError
		if j.Answer == verdicts.Faulted || errors.As(j.Err, &pe) {
			a.odd = true
		}
		switch j.Answer {
		case verdicts.Failed:
			var died *readers.DiedError
			if a.kept[j.Answer] && !errors.As(j.Err, &died) {
				j.Err = errElided
			}
		case verdicts.Wrong:
			if a.kept[j.Answer] {
				j.Why = errElided
			}
		}
		a.kept[j.Answer] = true
		a.js = append(a.js, j)
	}
	return a.js[k]
}

// lookups judges the probe's lookups in m's DB for reader r (memory
// faults are recovered), and classifies them as r would end: a fault
// kills a reader without PanicOnFault (crash) and is recovered by one
// with it.
func (p *prober) lookups(m *answers, r readers.Registration) Outcome {
	var o Outcome
	if m.db == nil {
		return o
	}
	for k, ip := range p.ips {
		if o.worst(r) || o.Died != "" {
			break // nothing later can change the verdict
		}
		j := m.at(k)
		var died *readers.DiedError
		if errors.As(j.Err, &died) {
			o.Lookups++
			o.died(died, "lookup of "+ip.String())
			continue
		}
		o.Count(j.Answer)
		o.note(j)
	}
	o.Verdict = o.verdict(r)
	return o
}

// note keeps the first detail of each kind of answer (built only then:
// on a torn file an error's text can be megabytes), and the address of
// the first fault.
func (o *Outcome) note(j readers.Judged) {
	switch j.Answer {
	case verdicts.Faulted:
		var fe *readers.FaultError
		if errors.As(j.Err, &fe) && o.Addr == "" {
			o.Addr = fmt.Sprintf("%#x", fe.Addr)
		}
		if o.faultDetail == "" {
			first(&o.faultDetail, j.Detail())
		}
	case verdicts.Failed:
		if o.errorDetail == "" {
			first(&o.errorDetail, j.Detail())
		}
	case verdicts.Wrong:
		if o.wrongDetail == "" {
			first(&o.wrongDetail, j.Detail())
		}
	}
}

// lookupOne looks ip up in db and judges the answer (readers.Judge). A
// foreign reader's answer is JSON, judged as such; its death is a
// *readers.DiedError in Err.
func (p *prober) lookupOne(db readers.DB, ip netip.Addr) readers.Judged {
	if f, ok := db.(*readers.ForeignProcess); ok {
		raw, err := f.LookupJSON(ip)
		var died *readers.DiedError
		if errors.As(err, &died) {
			return readers.Judged{Answer: verdicts.Failed, IP: ip, Err: err}
		}
		return readers.JudgeJSON(p.oracle, ip, raw, err)
	}
	rec := p.oracle.NewRecord()
	found, err := safeLookup(db, ip, rec)
	return readers.Judge(p.oracle, ip, rec, found, err)
}

// died records that a foreign reader's process ended during what.
func (o *Outcome) died(d *readers.DiedError, what string) {
	o.Died, o.Stuck, o.Stderr = d.Status, d.Stuck, d.Stderr // its last 2 KiB
	if d.Signal != 0 {
		o.Signal = crashes.Name(d.Signal)
	}
	o.diedDetail = clip(fmt.Sprintf("%s: reader process %s", what, d.Status), maxDetail)
}

// worst reports whether o has reached the most severe outcome reader r
// can earn: a fault (crash) for a reader that does not recover faults, a
// wrong answer (corrupt) for one that does.
func (o *Outcome) worst(r readers.Registration) bool {
	if r.PanicOnFault {
		return o.Wrong > 0
	}
	return o.Faults > 0
}

// maxDetail bounds a detail: a decoding error on a torn file can quote
// megabytes of garbage.
const maxDetail = 400

// first sets *dst to s (clipped) unless it is set.
func first(dst *string, s string) {
	if *dst == "" {
		*dst = clip(s, maxDetail)
	}
}

// clip cuts s to at most n bytes (at a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}

// verdict classifies o as reader r would end (verdicts.Judge), and sets
// Detail to the first event of the deciding kind.
func (o *Outcome) verdict(r readers.Registration) verdicts.Verdict {
	end := verdicts.Lived
	switch {
	case o.Stuck:
		end = verdicts.Hung
	case o.Died != "":
		end = verdicts.Died
	}
	v := verdicts.Judge(o.Tally, r.PanicOnFault, end)
	switch {
	case v == verdicts.Crash && end == verdicts.Died, v == verdicts.Stuck:
		o.Detail = o.diedDetail
	case v == verdicts.Crash:
		o.Detail = o.faultDetail + " (SIGBUS: the reader process dies)"
	case v == verdicts.Corrupt:
		o.Detail = o.wrongDetail
	case v == verdicts.Recovered:
		o.Detail = o.faultDetail
	case v == verdicts.Degraded:
		o.Detail = o.errorDetail
	}
	return v
}

// openStarting opens the target with r's own strategy, as a reader
// starting now would. When the open fails (or kills or hangs a foreign
// reader), db is nil and o is r's outcome.
func (p *prober) openStarting(r readers.Registration) (db readers.DB, o Outcome) {
	db, err := safeOpen(r.Strategy, p.target)
	var fe *readers.FaultError
	var died *readers.DiedError
	switch {
	case errors.As(err, &died) && (died.Signal != 0 || died.Stuck):
		// Killed by a signal, or hung, opening the target as it is now.
		o.died(died, "open")
	case errors.As(err, &fe):
		o = Outcome{Tally: verdicts.Tally{Faults: 1}, Addr: fmt.Sprintf("%#x", fe.Addr), faultDetail: clip("open: "+err.Error(), maxDetail)}
	case err != nil:
		o = Outcome{Tally: verdicts.Tally{OpenErrors: 1}, errorDetail: clip("open: "+err.Error(), maxDetail)}
	default:
		return db, o
	}
	o.Verdict = o.verdict(r)
	return nil, o
}

// startingJobs opens the target with each reader's own strategy, as a
// reader starting now would, and returns the jobs that look up in what
// each opened and judge the answers into out. Readers whose DBs run the
// same library code over the target's bytes as they are now
// (readers.LookupCode) share one lookup of each IP, as running readers of
// one strategy do (sharedLookups): on a torn file a lookup can spend
// milliseconds in the library formatting the garbage it decoded into its
// error.
func (p *prober) startingJobs(out []Outcome) []func() {
	dbs := make([]readers.DB, len(p.regs))
	groups := map[string][]int{}
	var codes []string
	var jobs []func()
	for i, r := range p.regs {
		db, o := p.openStarting(r)
		if db == nil {
			out[i] = o
			continue
		}
		dbs[i] = db
		if code, _ := readers.LookupCode(db); code != "" && p.viewWhole() {
			if groups[code] == nil {
				codes = append(codes, code)
			}
			groups[code] = append(groups[code], i)
			continue
		}
		jobs = append(jobs, func() {
			defer db.Close()
			out[i] = p.lookups(newAnswers(p, db), r)
		})
	}
	for _, code := range codes {
		jobs = append(jobs, func() { p.sharedLookups(groups[code], dbs, out) })
	}
	return jobs
}

// sharedLookups judges the lookups of the starting readers members, whose
// DBs run the same code, from one lookup of each IP in the DB of the first
// of them that does not recover panics itself. A DB that maps the target
// reads its bytes as they are now; one that holds a buffer (Bytes) shares
// only once the buffer is found to hold them page by page, and only when
// the lookups cost more than that check (on a whole version they cost
// less; it looks up on its own then). Where those lookups met a memory
// fault or a panic, the DBs may answer differently from there on (a
// PanicOnFault DB refuses lookups after a fault; a bytes DB cannot fault):
// every other reader then looks up in its own DB.
func (p *prober) sharedLookups(members []int, dbs []readers.DB, out []Outcome) {
	defer func() {
		for _, i := range members {
			dbs[i].Close()
		}
	}()
	lead := leadOf(members, dbs, p.regs)
	_, leadBuf := readers.LookupCode(dbs[lead])
	shared := newAnswers(p, dbs[lead])
	began := time.Now()
	out[lead] = p.lookups(shared, p.regs[lead])
	// Summing a buffer runs at several GB/s: about 1 ms per 8 MiB.
	costly := time.Since(began) > time.Duration(p.fileSize>>23+1)*time.Millisecond
	leadHolds := leadBuf == nil || costly && p.holdsTarget(leadBuf)
	for _, i := range members {
		if i == lead {
			continue
		}
		_, buf := readers.LookupCode(dbs[i])
		// A lead that recovers its panics itself words them otherwise.
		share := leadHolds && (buf == nil || costly && p.holdsTarget(buf)) &&
			(!p.regs[lead].PanicOnFault || p.regs[i].PanicOnFault)
		if share {
			out[i] = p.lookups(shared, p.regs[i])
		}
		if !share || shared.odd {
			out[i] = p.lookups(newAnswers(p, dbs[i]), p.regs[i])
		}
	}
}

// leadOf chooses the DB whose lookups a group shares: one that maps the
// target and does not recover panics itself, else one that maps it, else
// the first.
func leadOf(members []int, dbs []readers.DB, regs []readers.Registration) int {
	lead := -1
	for _, i := range members {
		if _, buf := readers.LookupCode(dbs[i]); buf == nil {
			if !regs[i].PanicOnFault {
				return i
			}
			if lead < 0 {
				lead = i
			}
		}
	}
	return max(lead, members[0])
}

// viewWhole reports whether the last starting view summed the whole
// target (it did not shrink while it was read).
func (p *prober) viewWhole() bool { return p.fileSize > 0 && p.fileSize == p.fileStatSize }

// holdsTarget reports whether buf holds the bytes the last starting view
// summed, page by page.
func (p *prober) holdsTarget(buf []byte) bool {
	if int64(len(buf)) != p.fileSize {
		return false
	}
	for i := range p.fileCRCs {
		if crc32.Checksum(buf[i*p.page:min((i+1)*p.page, len(buf))], castagnoli) != p.fileCRCs[i] {
			return false
		}
	}
	return true
}

// safeOpen opens path with s, turning a memory fault into a *FaultError.
func safeOpen(s readers.Strategy, path string) (db readers.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			db, err = nil, faultError(v)
		}
	}()
	return s.Open(path)
}

// safeLookup looks ip up in db, turning a memory fault into a *FaultError.
func safeLookup(db readers.DB, ip netip.Addr, rec any) (found bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			found, err = false, faultError(v)
		}
	}()
	return db.Lookup(ip, rec)
}

func faultError(v any) error {
	if a, ok := v.(interface{ Addr() uintptr }); ok {
		return &readers.FaultError{Addr: a.Addr(), Value: fmt.Sprint(v)}
	}
	return &panicError{v}
}

// panicError is a panic other than a memory fault, recovered in the probe.
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.v) }

// errText is err's innermost message with its errno name when known.
func errText(err error) string {
	var en unix.Errno
	if errors.As(err, &en) {
		return errnoName(en)
	}
	return err.Error()
}

// hashKey mixes the parts of a view into a cache key.
func hashKey(a, b uint64, s string) uint64 {
	h := crc32.New(castagnoli)
	fmt.Fprintf(h, "%d/%d/%s", a, b, s)
	return uint64(h.Sum32()) | (a^b)<<32
}

// listDir lists the entries of dir, sorted.
func listDir(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
