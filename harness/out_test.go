package harness_test

import (
	"errors"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/writers"
)

// put writes text into dir/rel, making its parents.
func put(dir, rel, text string) string {
	p := filepath.Join(dir, rel)
	Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
	Expect(os.WriteFile(p, []byte(text), 0o644)).To(Succeed())
	return p
}

// refused expects PrepareOut(dir) to refuse dir as bad input naming it
// and each of what.
func refused(dir string, what ...string) {
	err := harness.PrepareOut(dir)
	var ie *harness.InputError
	Expect(errors.As(err, &ie)).To(BeTrue(), "want an *InputError, got %v", err)
	Expect(err.Error()).To(ContainSubstring("--out " + dir + ": it holds "))
	for _, w := range what {
		Expect(err.Error()).To(ContainSubstring(w))
	}
	Expect(err.Error()).To(ContainSubstring("choose a new directory, e.g. --out " + filepath.Join(dir, "mapchaos-out")))
}

var _ = Describe("PrepareOut: mapchaos removes only what it wrote", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	It("takes a new or an empty directory and marks it with the names it writes", func() {
		Expect(harness.PrepareOut(filepath.Join(dir, "new"))).To(Succeed())
		Expect(harness.PrepareOut(dir)).To(Succeed())
		b, err := os.ReadFile(filepath.Join(dir, harness.OutMarker))
		Expect(err).NotTo(HaveOccurred())
		for _, n := range harness.OutNames {
			Expect(string(b)).To(ContainSubstring("\n" + n + "\n"))
		}
	})

	It("refuses a project directory, whatever its files are called, and changes nothing in it", func() {
		gomod := put(dir, "go.mod", "module x\n")
		notes := put(dir, "runs/notes.txt", "mine")
		refused(dir, "go.mod", "runs")
		Expect(filepath.Join(dir, harness.OutMarker)).NotTo(BeAnExistingFile(), "a refused directory was marked")
		Expect(os.ReadFile(gomod)).To(Equal([]byte("module x\n")))
		Expect(os.ReadFile(notes)).To(Equal([]byte("mine")))
	})

	It("refuses its own earlier output once the user put a file of theirs in it, under runs/ or beside the reports", func() {
		Expect(harness.PrepareOut(dir)).To(Succeed())
		put(dir, "runs/cp_x_mmap/writer.log", "ours")
		put(dir, "report.json", "{}")
		keep := put(dir, "runs/keep.txt", "mine")
		refused(dir, filepath.Join("runs", "keep.txt"))
		Expect(os.ReadFile(keep)).To(Equal([]byte("mine")))
		Expect(os.Remove(keep)).To(Succeed())
		notes := put(dir, "notes.txt", "mine")
		refused(dir, "notes.txt")
		Expect(os.ReadFile(notes)).To(Equal([]byte("mine")))
	})

	It("reuses its own output: clears runs/ and a report a killed run half wrote, keeps nested outputs", func() {
		Expect(harness.PrepareOut(dir)).To(Succeed())
		put(dir, "runs/cp_x_mmap/readers/1.stderr", "ours")
		put(dir, "runs/cp_x_mmap.writer.log", "ours")
		half := put(dir, ".report.md.tmp-123", "# half")
		Expect(harness.PrepareOut(filepath.Join(dir, "check"))).To(Succeed())
		Expect(os.MkdirAll(filepath.Join(dir, "tools", "race"), 0o755)).To(Succeed())
		Expect(harness.PrepareOut(filepath.Join(dir, "tools", "step", "cp"))).To(Succeed())
		Expect(harness.PrepareOut(dir)).To(Succeed())
		Expect(filepath.Join(dir, "runs")).NotTo(BeAnExistingFile())
		Expect(half).NotTo(BeAnExistingFile())
		Expect(filepath.Join(dir, "check", harness.OutMarker)).To(BeAnExistingFile())
	})

	It("takes the unmarked output of an older mapchaos (a suite's), but not report-named files of the user's", func() {
		put(dir, "runs/cp_x_mmap/writer.log", "ours")
		put(dir, "report.json", "not a report")
		refused(dir, "report.json", "runs")
		Expect(reports.WriteAll(dir, reports.Report{Run: reports.Run{Mode: "race"}})).To(Succeed())
		Expect(harness.PrepareOut(dir)).To(Succeed())
		Expect(filepath.Join(dir, "runs")).NotTo(BeAnExistingFile())
		Expect(filepath.Join(dir, "report.json")).To(BeAnExistingFile())
	})

	It("never clears a run directory it finds full: mapchaos.Race's RunDir must be new or empty", func(ctx SpecContext) {
		mine := put(dir, "run/keep.txt", "mine")
		p, err := harness.Resolve(parse("race: {updates: 1}\nwriters: [rename]\nreaders: [mmap]\n"), writers.Builtin(), readers.Builtin(), nil, nil)
		Expect(err).NotTo(HaveOccurred())
		r := &harness.Run{Plan: p, Pair: env.Pair, Out: dir, Self: env.Bin,
			Dir: func(harness.Combo) string { return filepath.Join(dir, "run") }}
		_, err = r.Execute(ctx)
		var ie *harness.InputError
		Expect(errors.As(err, &ie)).To(BeTrue(), "want an *InputError, got %v", err)
		Expect(err.Error()).To(ContainSubstring("holds keep.txt already"))
		Expect(os.ReadFile(mine)).To(Equal([]byte("mine")))
	})
})
