package harness_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

func parse(yml string) config.Config {
	cfg, err := config.Parse([]byte(yml), "ginkgo.yml")
	Expect(err).NotTo(HaveOccurred())
	return cfg
}

func names(p harness.Plan) []string {
	var out []string
	for _, c := range p.Combos {
		out = append(out, c.Name())
	}
	return out
}

var _ = Describe("Resolve", func() {
	ws, rs := writers.Builtin(), readers.Builtin()

	It("lists writers, then each writer's readers, in the config's order, with their expectations", func() {
		cfg := parse(`
writers: [rename, cp]
readers: [bytes, mmap]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: "truncates"}
  - {writer: "*", reader: "*", verdict: [safe, degraded], why: "the rest"}
`)
		p, err := harness.Resolve(cfg, ws, rs, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(names(p)).To(Equal([]string{"rename x bytes", "rename x mmap", "cp x bytes", "cp x mmap"}))
		Expect(p.Combos[3].Expected.String()).To(Equal("crash"))
		Expect(p.Combos[0].Expected.String()).To(Equal("safe|degraded"))
		Expect(p.Writers()).To(HaveLen(2))
		Expect(p.Of("cp")).To(HaveLen(2))
	})

	It("re-pairs each combination with the expectation scoped to where the run happens (In)", func() {
		cfg := parse(`
writers: [inplace]
readers: [mmap]
expect:
  - {writer: inplace, reader: mmap, fs: overlay, mode: step, verdict: corrupt, why: "copy-up"}
  - {writer: inplace, reader: mmap, verdict: crash, why: "truncates"}
`)
		p, err := harness.Resolve(cfg, ws, rs, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Combos[0].Expected.String()).To(Equal("crash"))
		Expect(p.In(config.Where{FS: "overlay", Mode: "step"}).Combos[0].Expected.String()).To(Equal("corrupt"))
		Expect(p.In(config.Where{FS: "overlay", Mode: "race"}).Combos[0].Expected.String()).To(Equal("crash"))
		Expect(p.Combos[0].Expected.String()).To(Equal("crash"), "In returns a new plan")
		gate := &config.Expectation{Verdicts: []verdicts.Verdict{verdicts.Safe}}
		w, err := ws.Lookup("inplace")
		Expect(err).NotTo(HaveOccurred())
		r, err := rs.Lookup("mmap")
		Expect(err).NotTo(HaveOccurred())
		a, err := harness.Against(cfg, w, []readers.Registration{r}, gate)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.In(config.Where{FS: "overlay", Mode: "step"}).Combos[0].Expected).To(BeIdenticalTo(gate), "a check's gate is not re-paired")
	})

	It("narrows to --writers and --readers, and names the unknown ones", func() {
		p, err := harness.Resolve(parse("writers: [cp]\n"), ws, rs, []string{"inplace"}, []string{"mmap"})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(p)).To(Equal([]string{"inplace x mmap"}))
		_, err = harness.Resolve(parse("writers: [cp]\n"), ws, rs, []string{"scp"}, []string{"mmapp"})
		Expect(err).To(MatchError(ContainSubstring(`--writers: unknown writer "scp"`)))
		Expect(err).To(MatchError(ContainSubstring(`--readers: unknown reader "mmapp"`)))
	})

	It("refuses a typed reader on a fixture of another kind, and on the user's own pair", func() {
		_, err := harness.Resolve(parse("readers: [geoip2-city]\n"), ws, rs, nil, nil)
		Expect(err).To(MatchError(ContainSubstring("needs fixture kind geoip2-city")))
		cfg := parse("readers: [geoip2-city]\nfixture: {old: a.mmdb, new: b.mmdb, kind: geoip2-city}\n")
		_, err = harness.Resolve(cfg, ws, rs, nil, nil)
		Expect(err).To(MatchError(ContainSubstring("cannot race your own pair")))
	})

	It("without readers in the config, takes every reader the fixture suits", func() {
		p, err := harness.Resolve(parse("writers: [cp]\nfixture: {kind: "+fixtures.KindCity+"}\n"), ws, rs, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(names(p)).To(ContainElement("cp x geoip2-city"))
		Expect(names(p)).NotTo(ContainElement("cp x geoip2-enterprise"))
	})
})

var _ = Describe("Combo.Judge", func() {
	exp := &config.Expectation{Verdicts: []verdicts.Verdict{verdicts.Crash}}
	c := harness.Combo{Expected: exp}

	DescribeTable("compares what was observed with what was expected",
		func(res results.Result, met bool) {
			e := c.Judge(res)
			Expect(e.Met).To(Equal(met))
			Expect(e.Expected).To(Equal("crash"))
		},
		Entry("the expected verdict", results.Result{Verdict: verdicts.Crash}, true),
		Entry("another verdict", results.Result{Verdict: verdicts.Safe}, false),
		Entry("a failed writer, whatever the verdict", results.Result{Verdict: verdicts.Crash, WriterError: "exit 1"}, false),
	)

	It("is met by anything when nothing is expected, unless the writer failed", func() {
		Expect(harness.Combo{}.Judge(results.Result{Verdict: verdicts.Corrupt}).Met).To(BeTrue())
		Expect(harness.Combo{}.Judge(results.Result{WriterError: "x"}).Met).To(BeFalse())
	})
})

var _ = Describe("Repro", func() {
	DescribeTable("renders the command that runs a combination again",
		func(r harness.Repro, reader, want string) {
			Expect(r.For("cp", reader)).To(Equal(want))
		},
		Entry("a matrix run", harness.Repro{Config: "ginkgo.yml", Seed: 5}, "mmap",
			"mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5"),
		Entry("stepped, own pair, with updates", harness.Repro{Mode: "step", Old: "a b.mmdb", New: "n.mmdb", Seed: 1, Updates: 1}, "bytes",
			"mapchaos matrix --mode step --old 'a b.mmdb' --new n.mmdb --writers cp --readers bytes --seed 1 --updates 1"),
		Entry("in the arm64 guest", harness.Repro{Config: "ginkgo.yml", Seed: 5, Arch: "arm64"}, "mmap",
			"mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5 --arch arm64"),
		Entry("in the arm64 guest with 16 KiB pages", harness.Repro{Config: "ginkgo.yml", Seed: 5, Arch: "arm64", PageSize: "16k"}, "mmap",
			"mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5 --arch arm64 --page-size 16k"),
		Entry("4 KiB pages are the default, left out", harness.Repro{Config: "ginkgo.yml", Seed: 5, Arch: "arm64", PageSize: "4k"}, "mmap",
			"mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5 --arch arm64"),
		Entry("the user's updater", harness.Repro{WriterCmd: "cp {new} {target}", Seed: 1, Updates: 4}, "mmap",
			"mapchaos check --writer-cmd 'cp {new} {target}' --readers mmap --updates 4 --seed 1"),
		Entry("the user's updater and reader, stepped, symlink target", harness.Repro{WriterCmd: "ln -sfn {new} {target}",
			ReaderCmd: "python3 r.py {target}", Seed: 1, Updates: 8, TargetKind: "symlink", Mode: "step"}, "",
			"mapchaos check --writer-cmd 'ln -sfn {new} {target}' --readers '' --reader-cmd 'python3 r.py {target}' --updates 8 --seed 1 --target-kind symlink --mode step"),
		Entry("on a file system mounted for the run", harness.Repro{Config: "ginkgo.yml", Seed: 5, Mode: "step", FS: "xfs"}, "mmap",
			"mapchaos matrix --mode step --config ginkgo.yml --writers cp --readers mmap --seed 5 --fs xfs"),
		Entry("the user's updater on overlay", harness.Repro{WriterCmd: "cp {new} {target}", Seed: 1, Updates: 4, FS: "overlay"}, "mmap",
			"mapchaos check --writer-cmd 'cp {new} {target}' --readers mmap --updates 4 --seed 1 --fs overlay"),
		Entry("from the suite", harness.Repro{Program: "go run ./cmd/mapchaos", Seed: 42}, "mmap",
			"go run ./cmd/mapchaos matrix --writers cp --readers mmap --seed 42"),
	)
})
