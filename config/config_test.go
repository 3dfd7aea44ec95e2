package config_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/input"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("the project's own ginkgo.yml", func() {
	It("parses, names only known strategies and expects something of every combination", func() {
		c, err := config.Load(filepath.Join("..", "ginkgo.yml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.CheckNames(writers.Builtin().Names(), readers.Builtin().Names())).To(Succeed())
		for _, w := range c.Writers {
			for _, r := range c.Readers {
				e, ok := c.Expected(w, r)
				Expect(ok).To(BeTrue(), "no expectation for %s x %s", w, r)
				Expect(e.Why).NotTo(BeEmpty(), "expectation for %s x %s gives no reason", w, r)
			}
		}
	})
})

var _ = Describe("Load", func() {
	It("refuses an endless file at its bound, naming the file and the bound", func() {
		_, err := config.Load("/dev/zero")
		Expect(err).To(MatchError(input.ErrTooLarge))
		Expect(err).To(MatchError("config: /dev/zero: larger than 1 MiB, the most mapchaos reads for a config file (ginkgo.yml)"))
	})

	It("reads a config from a FIFO, and stops waiting when its context ends", func() {
		fifo := filepath.Join(GinkgoT().TempDir(), "ginkgo.yml")
		Expect(syscall.Mkfifo(fifo, 0o600)).To(Succeed())
		go func() {
			defer GinkgoRecover()
			Expect(os.WriteFile(fifo, []byte("race: {updates: 3}\n"), 0)).To(Succeed())
		}()
		c, err := config.Load(fifo)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Race.Updates).To(Equal(3))

		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = config.LoadContext(ctx, fifo) // no writer this time
		Expect(err).To(MatchError(context.Canceled))
		Expect(err).To(MatchError(ContainSubstring(fifo)))
	})
})

var _ = Describe("Parse", func() {
	It("reads every setting", func() {
		c, err := config.Parse([]byte(`
fixture: {size: 2MiB, shape: grow}
race: {updates: 3, running_readers: 4, starting_readers: 0, reload: 10ms, gap: 5ms, stuck_after: 1s, seed: 9}
writers: [cp, rename]
readers: [mmap]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: truncation}
  - {writer: "*", reader: "*", verdict: [safe, degraded], why: rest}
`), "t.yml")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Fixture).To(Equal(config.Fixture{Size: 2 << 20, Shape: fixtures.Grow}))
		Expect(c.Race).To(Equal(config.Race{Updates: 3, RunningReaders: 4, StartingReaders: 0,
			Reload: 10 * time.Millisecond, Gap: 5 * time.Millisecond, StuckAfter: time.Second, Seed: 9}))
		Expect(c.Writers).To(Equal([]string{"cp", "rename"}))
		e, ok := c.Expected("cp", "mmap")
		Expect(ok).To(BeTrue())
		Expect(e.String()).To(Equal("crash"))
		e, _ = c.Expected("rename", "mmap")
		Expect(e.String()).To(Equal("safe|degraded"))
		Expect(e.Allows(verdicts.Degraded)).To(BeTrue())
		Expect(e.Allows(verdicts.Crash)).To(BeFalse())
	})

	It("scopes an expectation to file systems and modes; the first whose scope takes in the run applies", func() {
		c, err := config.Parse([]byte(`
expect:
  - {writer: inplace, reader: mmap, fs: overlay, mode: step, verdict: corrupt, why: copy-up}
  - {writer: "*", reader: mmap, fs: [nfs4, nfs3], verdict: degraded, why: shared}
  - {writer: "*", reader: "*", verdict: crash, why: rest}
`), "t.yml")
		Expect(err).NotTo(HaveOccurred())
		for _, t := range []struct {
			writer string
			where  config.Where
			want   string
		}{
			{"inplace", config.Where{FS: "overlay", Mode: "step"}, "corrupt"},
			{"inplace", config.Where{FS: "overlay", Mode: "race"}, "crash"},
			{"inplace", config.Where{FS: "ext4", Mode: "step"}, "crash"},
			{"cp", config.Where{FS: "nfs3", Mode: "race"}, "degraded"},
			{"cp", config.Where{}, "crash"},
		} {
			e, ok := c.ExpectedIn(t.writer, "mmap", t.where)
			Expect(ok).To(BeTrue())
			Expect(e.String()).To(Equal(t.want), "%s on %+v", t.writer, t.where)
		}
		e, _ := c.Expected("inplace", "mmap")
		Expect(e.String()).To(Equal("crash"), "Expected ignores scoped entries")
		Expect(c.HasScoped()).To(BeTrue())
	})

	DescribeTable("reads each GeoIP2 fixture kind",
		func(kind string) {
			c, err := config.Parse([]byte("fixture: {kind: "+kind+"}\n"), "t.yml")
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Fixture.Kind).To(Equal(kind))
		},
		Entry(nil, fixtures.KindCity), Entry(nil, fixtures.KindEnterprise),
	)

	It("keeps the defaults for what the file leaves out", func() {
		c, err := config.Parse([]byte("writers: [cp]\n"), "t.yml")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Race).To(Equal(config.Default().Race))
		Expect(c.Fixture).To(Equal(config.Default().Fixture))
	})

	DescribeTable("bad input gets an error that names it and says what is right",
		func(yml string, parts ...string) {
			_, err := config.Parse([]byte(yml), "/some/dir/ginkgo.yml")
			Expect(err).To(HaveOccurred())
			for _, p := range parts {
				Expect(err.Error()).To(ContainSubstring(p))
			}
		},
		Entry("unknown top-level key", "fixture: {size: 1MiB}\nracee: {}\n", `ginkgo.yml:2: unknown key "racee" in the top level`, "known keys are fixture, race"),
		Entry("unknown nested key", "race:\n  updatez: 3\n", `ginkgo.yml:2: unknown key "updatez" in race`, "updates"),
		Entry("bad size", "fixture: {size: lots}\n", `fixture.size is "lots"`, "16MiB"),
		Entry("size too small", "fixture: {size: 10}\n", "fixture.size is 10 bytes", "64KiB to 1GiB"),
		Entry("unknown kind", "fixture: {kind: enterprise}\n", `fixture.kind is "enterprise"`, "geoip2-city", "geoip2-enterprise"),
		Entry("old without new", "fixture: {old: a.mmdb}\n", "old and new go together"),
		Entry("unknown shape", "fixture: {shape: wobbly}\n", `fixture.shape is "wobbly"`, "same, shrink, grow"),
		Entry("bad duration", "race: {reload: soon}\n", `race.reload is "soon"`, "50ms"),
		Entry("bad count", "race: {updates: 0}\n", "race.updates", "1 to 10000"),
		Entry("unknown verdict", "expect: [{writer: cp, reader: mmap, verdict: boom}]\n", `unknown verdict "boom"`, "safe, degraded"),
		Entry("unknown mode", "expect: [{writer: cp, reader: mmap, mode: fast, verdict: safe}]\n", `expect.mode "fast"`, "race, step, power-loss"),
		Entry("incomplete expectation", "expect: [{writer: cp, verdict: safe}]\n", "needs writer, reader"),
		Entry("no readers at all", "race: {running_readers: 0, starting_readers: 0}\n", "at least one reader"),
		Entry("duplicate name", "writers: [cp, cp]\n", `lists "cp" twice`),
		Entry("not YAML", "fixture: [\n", "not valid YAML"),
		Entry("empty file", "", "empty"),
	)

	It("names unknown writers and readers, in lists and expectations", func() {
		c, err := config.Parse([]byte("writers: [cp, scp]\nreaders: [mmapp]\nexpect: [{writer: rsync, reader: '*', verdict: safe}]\n"), "g.yml")
		Expect(err).NotTo(HaveOccurred())
		err = c.CheckNames(writers.Builtin().Names(), readers.Builtin().Names())
		Expect(err).To(MatchError(And(
			ContainSubstring(`unknown writer "scp": known writers are cp, inplace`),
			ContainSubstring(`unknown reader "mmapp"`),
			ContainSubstring(`unknown writer "rsync"`))))
	})
})

var _ = DescribeTable("ParseSize",
	func(in string, want int64, ok bool) {
		n, err := config.ParseSize(in)
		if !ok {
			Expect(err).To(HaveOccurred())
			return
		}
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(want))
	},
	Entry(nil, "16MiB", int64(16<<20), true),
	Entry(nil, "512KiB", int64(512<<10), true),
	Entry(nil, "1GiB", int64(1<<30), true),
	Entry(nil, "4096", int64(4096), true),
	Entry(nil, "-1MiB", int64(0), false),
	Entry(nil, "MiB", int64(0), false),
)
