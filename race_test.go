package mapchaos_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos"
	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("Race", Serial, func() {
	DescribeTable("races a writer against a reader and returns the verdict",
		func(ctx SpecContext, w writers.Writer, reader string, want verdicts.Verdict, name string) {
			result, err := mapchaos.Race(ctx, w, mapchaos.Reader(reader), mapchaos.ReaderBinary(bin), mapchaos.Updates(6))
			Expect(err).NotTo(HaveOccurred())
			Expect(result).To(matchers.HaveVerdict(want))
			Expect(result.Writer).To(Equal(name))
			Expect(result.Reader).To(Equal(reader))
			Expect(result.Updates).To(Equal(6))
			Expect(result.Lookups).To(BeNumerically(">", 1000))
		},
		Entry("rename keeps mmap readers safe", writers.Rename{}, "mmap", verdicts.Safe, "rename"),
		Entry("symlink-swap gets its symlink target by itself", writers.SymlinkSwap{}, "mmap", verdicts.Safe, "symlink-swap"),
		Entry("cp crashes mmap readers", writers.Cp{}, "mmap", verdicts.Crash, "cp"),
		Entry("an updater that renames keeps mmap readers safe", writers.Command("mv", "{new}", "{target}"), "mmap", verdicts.Safe, "exec"),
		Entry("an updater that copies in place crashes them", writers.Command("cp", "{new}", "{target}"), "mmap", verdicts.Crash, "exec"),
	)

	It("says why the evidence matters, with a repro command", func(ctx SpecContext) {
		result, err := mapchaos.Race(ctx, writers.Command("cp", "{new}", "{target}"), mapchaos.Reader("mmap"),
			mapchaos.ReaderBinary(bin), mapchaos.Seed(9), mapchaos.Updates(4))
		Expect(err).NotTo(HaveOccurred())
		Expect(result).To(matchers.Crash())
		Expect(result.Evidence.Signal).To(Equal("SIGBUS"))
		Expect(result.Evidence.WriterStep).To(ContainSubstring("exec cp {new} {target}"))
		Expect(result.Evidence.Repro).To(Equal("mapchaos check --writer-cmd 'cp {new} {target}' --readers mmap --updates 4 --seed 9 --size 16777216 --shape shrink"))
	})

	It("fails with ErrWriterFailed, and the result, when the updater fails", func(ctx SpecContext) {
		result, err := mapchaos.Race(ctx, writers.Command("sh", "-c", `echo "disk full" >&2; exit 4`, "sh", "{new}", "{target}"),
			mapchaos.Reader("bytes"), mapchaos.ReaderBinary(bin))
		Expect(err).To(MatchError(mapchaos.ErrWriterFailed))
		Expect(err.Error()).To(ContainSubstring("exit status 4"))
		Expect(err.Error()).To(ContainSubstring("disk full"))
		Expect(result.WriterError).To(ContainSubstring("update 1"))
		Expect(result.Updates).To(Equal(1))
	})

	It("keeps the run directory it is given, with the updater's output", func(ctx SpecContext) {
		dir := filepath.Join(GinkgoT().TempDir(), "run")
		_, err := mapchaos.Race(ctx, writers.Command("sh", "-c", `echo "installing $MAPCHAOS_UPDATE"; mv "$1" "$2"`, "sh", "{new}", "{target}"),
			mapchaos.Reader("mmap"), mapchaos.ReaderBinary(bin), mapchaos.Updates(2), mapchaos.RunDir(dir))
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(dir, "timeline.log")).To(BeAnExistingFile())
		log, err := os.ReadFile(filepath.Join(dir, "writer.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(ContainSubstring("installing 1\n"))
		Expect(string(log)).To(ContainSubstring("== update 2: exit status 0"))
		Expect(filepath.Join(dir, "data", "db.mmdb")).To(BeAnExistingFile())
	})

	It("removes its own run directory", func(ctx SpecContext) {
		// A TMPDIR of its own: the test binary's examples may race in
		// another process meanwhile, in the shared one.
		tmp := GinkgoT().TempDir()
		GinkgoT().Setenv("TMPDIR", tmp)
		_, err := mapchaos.Race(ctx, writers.Rename{}, mapchaos.Reader("bytes"), mapchaos.ReaderBinary(bin), mapchaos.Updates(2))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadDir(tmp)).To(BeEmpty(), "the race left its run directory in TMPDIR")
	})

	It("stops every process when ctx ends, the updater's included", func(ctx SpecContext) {
		// Its own run directory: the test binary's examples may race in
		// another process meanwhile (Ginkgo runs them after its specs).
		dir := filepath.Join(GinkgoT().TempDir(), "cancelled-run")
		c, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		_, err := mapchaos.Race(c, writers.Command("sh", "-c", `sleep 40.7713`, "sh", "{target}"),
			mapchaos.Reader("mmap"), mapchaos.ReaderBinary(bin), mapchaos.RunDir(dir))
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(proctest.Mentioning("sleep 40.7713")).To(BeEmpty())
		Expect(proctest.Mentioning(dir)).To(BeEmpty())
	})

	DescribeTable("refuses bad input before starting anything",
		func(ctx SpecContext, w writers.Writer, r readers.Registration, opt mapchaos.Option, msg string) {
			_, err := mapchaos.Race(ctx, w, r, mapchaos.ReaderBinary(bin), opt)
			Expect(err).To(MatchError(ContainSubstring(msg)))
			Expect(errors.Is(err, engine.ErrHarness)).To(BeFalse())
		},
		Entry("an unknown reader", writers.Rename{}, mapchaos.Reader("mmapp"), nil, `unknown reader "mmapp": known readers are bytes, `),
		Entry("an updater without {target}", writers.Command("cp", "{new}", "/etc/hosts"), mapchaos.Reader("mmap"), nil, "has no {target} argument"),
		Entry("an updater that is not there", writers.Command("./no-such-update.sh", "{new}", "{target}"), mapchaos.Reader("mmap"), nil, "no such file"),
		Entry("no writer", nil, mapchaos.Reader("mmap"), nil, "no writer"),
		Entry("no updates", writers.Rename{}, mapchaos.Reader("mmap"), mapchaos.Updates(0), "Updates(0): want at least 1"),
		Entry("no readers", writers.Rename{}, mapchaos.Reader("mmap"), mapchaos.Readers(-1, -1), "at least one reader"),
		Entry("a fixture too small", writers.Rename{}, mapchaos.Reader("mmap"), mapchaos.FixtureSize(1000), "Spec.Size 1000 is too small"),
		Entry("a reader executable that is not there", writers.Rename{}, mapchaos.Reader("mmap"), mapchaos.ReaderBinary("/no/such/mapchaos"), `ReaderBinary("/no/such/mapchaos")`),
	)
})

var _ = Describe("FindBinary", Serial, func() {
	It("prefers $MAPCHAOS_BIN", func(ctx SpecContext) {
		GinkgoT().Setenv("MAPCHAOS_BIN", bin)
		Expect(mapchaos.FindBinary(ctx)).To(Equal(bin))
	})

	It("refuses a $MAPCHAOS_BIN that is not there", func(ctx SpecContext) {
		GinkgoT().Setenv("MAPCHAOS_BIN", "/no/such/mapchaos")
		_, err := mapchaos.FindBinary(ctx)
		Expect(err).To(MatchError(ContainSubstring("$MAPCHAOS_BIN")))
	})

	It("takes mapchaos from $PATH", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		Expect(os.Symlink(bin, filepath.Join(dir, "mapchaos"))).To(Succeed())
		GinkgoT().Setenv("MAPCHAOS_BIN", "")
		GinkgoT().Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		Expect(mapchaos.FindBinary(ctx)).To(Equal(filepath.Join(dir, "mapchaos")))
	})

	It("builds one into the cache otherwise, once per process", func(ctx SpecContext) {
		if _, err := exec.LookPath("mapchaos"); err == nil {
			Skip("mapchaos is in $PATH")
		}
		GinkgoT().Setenv("MAPCHAOS_BIN", "")
		p, err := mapchaos.FindBinary(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Base(p)).To(MatchRegexp(`^mapchaos-[0-9a-f]{16}$`))
		out, err := exec.Command(p, "list").Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(ContainSubstring("mmap-recover"))
		Expect(mapchaos.FindBinary(ctx)).To(Equal(p))
	}, SpecTimeout(3*time.Minute))
})
