package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

func config(writer, reader string) engine.Config {
	w, err := writers.Builtin().Lookup(writer)
	Expect(err).NotTo(HaveOccurred())
	r, err := readers.Builtin().Lookup(reader)
	Expect(err).NotTo(HaveOccurred())
	return engine.Config{
		Writer: w, Reader: r, Pair: env.Pair,
		Dir:       filepath.Join(GinkgoT().TempDir(), "run"),
		ReaderCmd: []string{env.Bin, "reader"},
		Updates:   8, Seed: 7, Repro: "repro-command",
	}
}

var _ = Describe("Run", func() {
	DescribeTable("atomic writers keep every reader safe",
		func(ctx SpecContext, writer, reader string) {
			res, err := engine.Run(ctx, config(writer, reader))
			Expect(err).NotTo(HaveOccurred())
			Expect(res).To(matchers.BeSafe())
			Expect(res.Lookups).To(BeNumerically(">", 1000), "the readers really looked things up")
			Expect(res.Answers.Right).To(Equal(res.Lookups))
			Expect(res.Updates).To(Equal(8))
			Expect(res.Roles[results.Running].Readers).To(Equal(2))
			Expect(res.Roles[results.Starting].Readers).To(Equal(8))
			Expect(res.Evidence).To(BeNil())
		},
		Entry("rename x mmap", "rename", "mmap"),
		Entry("rename x bytes", "rename", "bytes"),
		Entry("symlink-swap x mmap-recover", "symlink-swap", "mmap-recover"),
		Entry("rename x mmap-v2", "rename", "mmap-v2"),
	)

	DescribeTable("cp kills a mapped reader with SIGBUS, and the evidence says so", func(ctx SpecContext, reader, frame string) {
		cfg := config("cp", reader)
		res, err := engine.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.Crash())
		ev := res.Evidence
		Expect(ev).NotTo(BeNil())
		Expect(ev.Signal).To(Equal("SIGBUS"))
		Expect(ev.SignalNumber).To(Equal(7))
		Expect(ev.Code).To(Equal("BUS_ADRERR"))
		Expect(ev.Addr).To(MatchRegexp(`^0x[0-9a-f]+$`))
		Expect(ev.ExitStatus).To(Equal("exit 2"), "a Go reader that faults exits 2; it does not die by the signal")
		Expect(ev.Fatal).To(Equal("fatal error: fault"))
		Expect(ev.Trace).To(ContainSubstring(frame))
		Expect(ev.Trace).NotTo(MatchRegexp(`(?m)^runtime\.`), "the trace keeps the frames outside the runtime")
		Expect(ev.LastLookups).NotTo(BeEmpty())
		Expect(ev.WriterStep).To(MatchRegexp(`update \d+ (of 8|step)`))
		Expect(ev.Repro).To(Equal("repro-command"))
		Expect(res.FirstFailureMS).NotTo(BeNil())
		Expect(filepath.Join(cfg.Dir, "readers", ev.Reader+".stderr")).To(BeAnExistingFile())
		Expect(filepath.Join(cfg.Dir, "timeline.log")).To(BeAnExistingFile())
		Expect(filepath.Join(cfg.Dir, "data")).NotTo(BeAnExistingFile(), "the big files are removed after the run")
	},
		Entry("maxminddb-golang v1", "mmap", "github.com/oschwald/maxminddb-golang."),
		Entry("maxminddb-golang v2", "mmap-v2", "github.com/oschwald/maxminddb-golang/v2"),
	)

	It("calls a reader that stops making progress stuck, and kills it", func(ctx SpecContext) {
		cfg := config("rename", "mmap")
		cfg.StuckAfter = 400 * time.Millisecond
		// Updates enough to outlast the stop (1 s) plus stuck_after plus
		// the allowance for a reader stopped inside an open (the time to
		// read the pair at 16 MiB/s), on a loaded machine too.
		cfg.Updates = 150
		cfg.Starting = -1
		// A real wrapper: the reader is stopped (SIGSTOP) 0.3 s after it has
		// mapped the database, as a process wedged in the kernel would stop
		// answering. Not on a timer from its start: an emulated arm64 guest
		// under load can take more than a second to start a reader, which
		// must say ready before it stops. (The reader gets the wrapper's
		// stdin through fd 3: sh gives a background command /dev/null.)
		cfg.ReaderCmd = []string{"sh", "-c", `exec 3<&0; "$0" "$@" <&3 3<&- & pid=$!
until grep -q '\.mmdb' /proc/$pid/maps 2>/dev/null; do sleep 0.05; done
sleep 0.3; kill -STOP $pid; wait $pid`, env.Bin, "reader"}
		res, err := engine.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.HaveVerdict(verdicts.Stuck))
		Expect(res.Evidence.Detail).To(ContainSubstring("no progress"))
		Expect(proctest.Mentioning(cfg.Dir)).To(BeEmpty())
	})

	It("stops and reaps every reader when the context is cancelled", func(ctx SpecContext) {
		cfg := config("cp", "bytes")
		cfg.Updates = 1000
		c, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		_, err := engine.Run(c, cfg)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(proctest.Mentioning(cfg.Dir)).To(BeEmpty(), "no reader outlives Run")
	})

	It("judges only the starting readers of updates that were made when the writer fails", func(ctx SpecContext) {
		cfg := config("rename", "mmap")
		cfg.Writer = writers.Strategy{Name: "exec", Writer: writers.Command("false", "{new}", "{target}")}
		res, err := engine.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.WriterError).To(ContainSubstring("update 1"))
		Expect(res.Updates).To(Equal(1))
		Expect(res.Roles[results.Starting].Readers).To(Equal(1),
			"update 2's starting reader, started while update 1 ran, is not judged: update 2 never came")
		Expect(proctest.Mentioning(cfg.Dir)).To(BeEmpty(), "no reader outlives Run")
	})

	It("refuses a run directory that is not empty", func(ctx SpecContext) {
		cfg := config("cp", "mmap")
		Expect(os.MkdirAll(cfg.Dir, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(cfg.Dir, "precious"), []byte("x"), 0o644)).To(Succeed())
		_, err := engine.Run(ctx, cfg)
		Expect(err).To(MatchError(engine.ErrHarness))
		Expect(err.Error()).To(ContainSubstring("not empty"))
		Expect(os.ReadFile(filepath.Join(cfg.Dir, "precious"))).To(Equal([]byte("x")))
	})

	It("rejects an incomplete config with a message naming what is missing", func(ctx SpecContext) {
		_, err := engine.Run(ctx, engine.Config{})
		Expect(err).To(MatchError(And(ContainSubstring("no writer"), ContainSubstring("no fixture pair"), ContainSubstring("no run directory"))))
	})
})
