package writers_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

// inodeRule is what an update does to the file the target resolves to.
type inodeRule int

const (
	// sameInode: the file is rewritten; a descriptor opened before the
	// update reads the new bytes.
	sameInode inodeRule = iota
	// newInode: the target names a new file; a descriptor opened before the
	// update still reads the whole old bytes.
	newInode
)

// update describes one update to a step-shape check.
type update struct {
	seq  int
	size int    // bytes of the new version
	prev string // symlink strategies: the data file linked before
}

// expectation is what the specs demand of one strategy beyond the Writer
// contract. Adding a strategy to Builtin means adding one line here.
type expectation struct {
	inode inodeRule
	steps func(steps []string, u update) // checks the shape of one update's steps
}

var expectations = map[string]expectation{
	"cp":               {sameInode, cpSteps},
	"inplace":          {sameInode, inplaceSteps},
	"remove-create":    {newInode, removeCreateSteps},
	"rename":           {newInode, renameSteps},
	"rename-nofsync":   {newInode, renameNoFsyncSteps},
	"symlink-recreate": {newInode, symlinkRecreateSteps},
	"symlink-swap":     {newInode, symlinkSwapSteps},
}

// strategyEntries makes one table entry per built-in strategy.
func strategyEntries() []TableEntry {
	var entries []TableEntry
	for _, s := range writers.Builtin().All() {
		entries = append(entries, Entry(s.Name, s))
	}
	return entries
}

// expectationOf returns the expectation for s, failing if there is none.
func expectationOf(s writers.Strategy) expectation {
	GinkgoHelper()
	e, ok := expectations[s.Name]
	Expect(ok).To(BeTrue(), "no expectation for writer %q: add a line to expectations", s.Name)
	if s.Atomic {
		Expect(e.inode).To(Equal(newInode), "an atomic strategy cannot rewrite the file readers use")
	}
	return e
}

// recorder collects the steps of an update.
type recorder struct{ steps []string }

func (r *recorder) step(s string) { r.steps = append(r.steps, s) }

// A step-shape regexp matches the steps joined by newlines, each followed
// by a newline.
func step(s string) string { return regexp.QuoteMeta(s) + `\n` }

const (
	copies = `(?:(?:copy_file_range|pwrite)\([^\n]*\)\n)*` // the copy of the source
	prunes = `(?:unlinkat\(db\.mmdb\.v\d+\)\n)*`           // old data files removed
)

func expectShape(steps []string, parts ...string) {
	GinkgoHelper()
	joined := strings.Join(steps, "\n") + "\n"
	Expect(joined).To(MatchRegexp("^"+strings.Join(parts, "")+"$"), "step sequence")
}

func cpSteps(steps []string, u update) {
	GinkgoHelper()
	Expect(steps[0]).To(ContainSubstring("O_TRUNC"))
	expectShape(steps, step("openat(db.mmdb, O_WRONLY|O_CREAT|O_TRUNC, 0644)"), copies)
}

func inplaceSteps(steps []string, u update) {
	GinkgoHelper()
	want := []string{"openat(db.mmdb, O_WRONLY|O_CREAT, 0644)"}
	for off := 0; off < u.size; off += 256 << 10 {
		want = append(want, fmt.Sprintf("pwrite(offset %d, %d bytes)", off, min(256<<10, u.size-off)))
	}
	want = append(want, fmt.Sprintf("ftruncate(%d)", u.size))
	Expect(steps).To(Equal(want))
}

func removeCreateSteps(steps []string, u update) {
	GinkgoHelper()
	expectShape(steps,
		step("unlinkat(db.mmdb)"),
		step("openat(db.mmdb, O_WRONLY|O_CREAT|O_EXCL, 0644)"),
		copies,
		step("fchmod(0644)"))
}

func renameSteps(steps []string, u update) {
	GinkgoHelper()
	expectShape(steps,
		step("openat(db.mmdb.temporary, O_WRONLY|O_CREAT|O_TRUNC, 0644)"),
		copies,
		step("renameat(db.mmdb.temporary, db.mmdb)"))
}

func renameNoFsyncSteps(steps []string, u update) {
	GinkgoHelper()
	expectShape(steps,
		step("openat(db.mmdb.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0644)"),
		copies,
		step("renameat(db.mmdb.tmp, db.mmdb)"))
}

func symlinkSwapSteps(steps []string, u update) {
	GinkgoHelper()
	data := fmt.Sprintf("db.mmdb.v%d", u.seq)
	expectShape(steps,
		step("openat("+data+", O_WRONLY|O_CREAT|O_EXCL, 0644)"),
		copies,
		step("symlinkat("+data+", db.mmdb.tmp-link)"),
		step("renameat(db.mmdb.tmp-link, db.mmdb)"),
		prunes)
	Expect(steps).NotTo(ContainElement("unlinkat(" + u.prev + ")"))
}

func symlinkRecreateSteps(steps []string, u update) {
	GinkgoHelper()
	data := fmt.Sprintf("db.mmdb.v%d", u.seq)
	expectShape(steps,
		step("openat("+data+", O_WRONLY|O_CREAT|O_EXCL, 0644)"),
		copies,
		step("unlinkat(db.mmdb)"),
		step("symlinkat("+data+", db.mmdb)"),
		prunes)
	Expect(steps).NotTo(ContainElement("unlinkat(" + u.prev + ")"))
}

// fixture is a temporary target directory with the two versions A and B
// in a separate source directory.
type fixture struct {
	src, db      string // directories
	target       string
	a, b         []byte
	pathA, pathB string
}

func newFixture(sizeA, sizeB int) *fixture {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	f := &fixture{src: mkdir(dir, "src"), db: mkdir(dir, "db"), a: randomBytes(1, sizeA), b: randomBytes(2, sizeB)}
	f.target = filepath.Join(f.db, "db.mmdb")
	f.pathA, f.pathB = writeFile(f.src, "a", f.a), writeFile(f.src, "b", f.b)
	return f
}

// expectSourcesUntouched checks that the writer neither changed the sources
// nor left anything in their directory.
func (f *fixture) expectSourcesUntouched() {
	GinkgoHelper()
	expectContent(f.pathA, f.a)
	expectContent(f.pathB, f.b)
	Expect(names(f.src)).To(ConsistOf("a", "b"))
}

var _ = Describe("every built-in strategy", func() {
	for _, sizes := range []struct {
		name string
		a, b int
	}{
		{"A of 3 MiB, B of 1 MiB", 3<<20 + 123, 1<<20 + 7},
		{"A and B of the same size", 1<<20 + 5, 1<<20 + 5},
		{"A of 1 MiB, B empty", 1 << 20, 0},
	} {
		DescribeTable("updates A -> B -> A -> B, "+sizes.name,
			func(s writers.Strategy) {
				exp := expectationOf(s)
				f := newFixture(sizes.a, sizes.b)
				Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
				expectContent(f.target, f.a)
				expectLayout(s, f.target)

				old := f.a
				for i, next := range []struct {
					path string
					data []byte
				}{{f.pathB, f.b}, {f.pathA, f.a}, {f.pathB, f.b}} {
					seq := i + 1
					By(fmt.Sprintf("update %d", seq))
					before, err := os.Stat(f.target)
					Expect(err).NotTo(HaveOccurred())
					prev, _ := os.Readlink(f.target)
					held, err := os.Open(f.target)
					Expect(err).NotTo(HaveOccurred())
					DeferCleanup(held.Close)

					var rec recorder
					Expect(s.Writer.Update(context.Background(), writers.Update{
						Target: f.target, Source: next.path, Seq: seq, Step: rec.step,
					})).To(Succeed())

					expectContent(f.target, next.data)
					f.expectSourcesUntouched()
					expectLayout(s, f.target)

					after, err := os.Stat(f.target)
					Expect(err).NotTo(HaveOccurred())
					seen, err := io.ReadAll(held)
					Expect(err).NotTo(HaveOccurred())
					switch exp.inode {
					case sameInode:
						Expect(os.SameFile(before, after)).To(BeTrue(), "the target must keep its inode")
						Expect(digest(seen)).To(Equal(digest(next.data)), "a descriptor opened before reads the new bytes")
					case newInode:
						Expect(os.SameFile(before, after)).To(BeFalse(), "the target must get a new inode")
						Expect(digest(seen)).To(Equal(digest(old)), "a descriptor opened before reads the whole old bytes")
					}

					Expect(rec.steps).NotTo(BeEmpty())
					Expect(rec.steps).NotTo(ContainElement(BeEmpty()))
					if len(next.data) > 0 {
						Expect(rec.steps).To(ContainElement(MatchRegexp(`^(copy_file_range|pwrite)\(`)))
					}
					exp.steps(rec.steps, update{seq: seq, size: len(next.data), prev: prev})
					old = next.data
				}
			},
			strategyEntries())
	}

	DescribeTable("records a step sequence of the tool's shape",
		func(s writers.Strategy) {
			exp := expectationOf(s)
			f := newFixture(3<<20+123, 1<<20+7)
			Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
			var rec recorder
			Expect(s.Writer.Update(context.Background(), writers.Update{
				Target: f.target, Source: f.pathB, Seq: 1, Step: rec.step,
			})).To(Succeed())
			GinkgoWriter.Printf("%s steps:\n  %s\n", s.Name, strings.Join(rec.steps, "\n  "))
			exp.steps(rec.steps, update{seq: 1, size: len(f.b), prev: "db.mmdb.v0"})
		},
		strategyEntries())

	DescribeTable("with ctx already cancelled, fails before any change",
		func(s writers.Strategy) {
			f := newFixture(1<<20, 1000)
			Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
			before, err := os.Lstat(f.target)
			Expect(err).NotTo(HaveOccurred())
			files := names(f.db)

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var rec recorder
			err = s.Writer.Update(ctx, writers.Update{Target: f.target, Source: f.pathB, Seq: 1, Step: rec.step})
			Expect(err).To(MatchError(context.Canceled))
			Expect(rec.steps).To(BeEmpty())

			after, err := os.Lstat(f.target)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.SameFile(before, after)).To(BeTrue())
			expectContent(f.target, f.a)
			Expect(names(f.db)).To(Equal(files))
			f.expectSourcesUntouched()
		},
		strategyEntries())

	DescribeTable("when cancelled at any step, leaves a whole version if atomic and never leaves scratch files",
		func(s writers.Strategy) {
			f := newFixture(600<<10, 300<<10)
			Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
			var rec recorder
			Expect(s.Writer.Update(context.Background(), writers.Update{
				Target: f.target, Source: f.pathB, Seq: 1, Step: rec.step,
			})).To(Succeed())

			seq := 1
			cur, curPath, next, nextPath := f.b, f.pathB, f.a, f.pathA
			for k := range rec.steps {
				seq++
				By(fmt.Sprintf("cancelling at step %d", k))
				ctx, cancel := context.WithCancel(context.Background())
				n := 0
				err := s.Writer.Update(ctx, writers.Update{
					Target: f.target, Source: nextPath, Seq: seq,
					Step: func(string) {
						if n == k {
							cancel()
						}
						n++
					},
				})
				cancel()
				f.expectSourcesUntouched()
				if err == nil {
					expectContent(f.target, next)
					cur, curPath, next, nextPath = next, nextPath, cur, curPath
				} else {
					Expect(err).To(MatchError(context.Canceled))
				}
				if !s.Atomic {
					// The target may be missing or partial; put it back.
					Expect(os.RemoveAll(f.db)).To(Succeed())
					Expect(os.Mkdir(f.db, 0o755)).To(Succeed())
					Expect(writers.Install(f.target, curPath, s.Properties)).To(Succeed())
					continue
				}
				if err != nil {
					expectContent(f.target, cur)
				}
				expectLayout(s, f.target)
			}
		},
		strategyEntries())
})

var _ = Describe("symlink strategies", func() {
	It("refuse a target that is not a symlink, and leave it alone", func() {
		f := newFixture(1000, 2000)
		Expect(writers.Install(f.target, f.pathA, writers.Properties{})).To(Succeed())
		for _, s := range writers.Builtin().All() {
			if !s.SymlinkTarget {
				continue
			}
			err := s.Writer.Update(context.Background(), writers.Update{Target: f.target, Source: f.pathB, Seq: 1})
			Expect(err).To(MatchError(ContainSubstring("not a symlink")), s.Name)
			expectContent(f.target, f.a)
			Expect(names(f.db)).To(ConsistOf("db.mmdb"))
		}
	})
})

var _ = Describe("every strategy", func() {
	It("refuses a source that is the target itself", func() {
		for _, s := range writers.Builtin().All() {
			f := newFixture(1000, 0)
			Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
			err := s.Writer.Update(context.Background(), writers.Update{Target: f.target, Source: f.target, Seq: 1})
			Expect(err).To(MatchError(ContainSubstring("is the target itself")), s.Name)
			expectContent(f.target, f.a)
		}
	})
})

var _ = Describe("copying across file systems", func() {
	It("falls back to pread and pwrite where copy_file_range cannot copy", func() {
		shm, err := os.MkdirTemp("/dev/shm", "mapchaos-writers-")
		if err != nil {
			Skip("no /dev/shm: " + err.Error())
		}
		DeferCleanup(os.RemoveAll, shm)
		f := newFixture(1000, 0)
		data := randomBytes(3, 600<<10)
		src := writeFile(shm, "c", data)
		Expect(writers.Install(f.target, f.pathA, writers.Properties{})).To(Succeed())
		var rec recorder
		Expect(writers.Cp{}.Update(context.Background(), writers.Update{
			Target: f.target, Source: src, Seq: 1, Step: rec.step,
		})).To(Succeed())
		expectContent(f.target, data)
		expectContent(src, data)
		if len(rec.steps) == 2 {
			Skip("copy_file_range copied from tmpfs to " + f.db + " itself")
		}
		Expect(rec.steps).To(Equal([]string{
			"openat(db.mmdb, O_WRONLY|O_CREAT|O_TRUNC, 0644)",
			"copy_file_range(614400 bytes)",
			"pwrite(offset 0, 262144 bytes)",
			"pwrite(offset 262144, 262144 bytes)",
			"pwrite(offset 524288, 90112 bytes)",
		}))
	})
})
