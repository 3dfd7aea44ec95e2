package step_test

import (
	"context"
	"fmt"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// shell steps `sh -c script marker` on a fresh lab (the target A, in
// data/, which is the working directory).
func shell(ctx context.Context, script string, tweak ...func(*step.Config)) (*step.Sequence, error) {
	l := newLab()
	cfg := l.config(fx.Shrink, writers.Properties{}, []string{"sh", "-c", script, "mapchaos-spec-" + marker()})
	cfg.Readers, cfg.Oracle = nil, nil
	for _, t := range tweak {
		t(&cfg)
	}
	return step.Run(ctx, cfg)
}

var markers int

// marker numbers the next shell's script; nextMarker is the argument that
// shell will pass, so a spec can look for its process on /proc.
func marker() string {
	markers++
	return fmt.Sprintf("%d-%d", GinkgoParallelProcess(), markers)
}

func nextMarker() string {
	return fmt.Sprintf("mapchaos-spec-%d-%d", GinkgoParallelProcess(), markers+1)
}

var _ = Describe("the updater process", Label("ptrace"), func() {
	It("is killed when the context is cancelled, and no stopped process is left behind", func(ctx SpecContext) {
		m := nextMarker()
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(500*time.Millisecond, cancel)
		began := time.Now()
		_, err := shell(c, "echo x > part.tmp; sleep 30")
		Expect(err).To(MatchError(context.Canceled))
		Expect(time.Since(began)).To(BeNumerically("<", 10*time.Second))
		Expect(proctest.Mentioning(m)).To(BeEmpty())
	})

	It("kills a daemon the updater started, names it, and calls Config.Check once", func(ctx SpecContext) {
		var checks []bool
		// The updater exits once the daemon has left its session.
		script := `setsid sh -c 'touch ready; exec sleep 300.9431' >/dev/null 2>&1 & while [ ! -e ready ]; do sleep 0.01; done; rm ready`
		seq, err := shell(ctx, script, func(c *step.Config) {
			c.NoKills = true
			c.Check = func(ok bool, _ string) error { checks = append(checks, ok); return fmt.Errorf("not installed") }
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(proctest.Mentioning("sleep 300.9431")).To(BeEmpty())
		Expect(seq.Warnings).To(ContainElement(MatchRegexp("^pid \\d+ .*, started by the updater, .*: killed$")))
		Expect(checks).To(Equal([]bool{true}))
		Expect(seq.Failure).To(Equal("not installed"))
	})

	It("is killed after Config.Timeout, and the error says so", func(ctx SpecContext) {
		m := nextMarker()
		_, err := shell(ctx, "sleep 30", func(c *step.Config) { c.Timeout = 300 * time.Millisecond })
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(err).To(MatchError(ContainSubstring("did not finish within 300ms")))
		Expect(proctest.Mentioning(m)).To(BeEmpty())
	})

	It("may fail: that is its exit status and output, not an error", func(ctx SpecContext) {
		seq, err := shell(ctx, "echo broken >&2; exit 3")
		Expect(err).NotTo(HaveOccurred())
		Expect(seq.Exit).To(Equal("exit 3"))
		Expect(seq.ExitCode).To(Equal(3))
		Expect(seq.Output).To(ContainSubstring("broken"))
	})

	It("that cannot be started is an error naming it", func(ctx SpecContext) {
		l := newLab()
		cfg := l.config(fx.Shrink, writers.Properties{}, []string{"no-such-updater-anywhere"})
		_, err := step.Run(ctx, cfg)
		Expect(err).To(MatchError(ContainSubstring("no-such-updater-anywhere")))
	})

	It("gets its own signals re-injected", func(ctx SpecContext) {
		seq, err := shell(ctx, `trap 'echo got > got.txt' USR1; kill -USR1 $$; echo after > after.txt`)
		Expect(err).NotTo(HaveOccurred())
		Expect(seq.Exit).To(Equal("exit 0"), seq.Output)
		Expect(callTexts(seq)).To(ContainElements(ContainSubstring(`"got.txt"`), ContainSubstring(`"after.txt"`)))
	})

	It("is followed into forks and execs, with the calls of every process stepped", func(ctx SpecContext) {
		seq, err := shell(ctx, `cp db.mmdb copy1.tmp && (echo y > sub.tmp) && /bin/sh -c 'rm copy1.tmp'`)
		Expect(err).NotTo(HaveOccurred())
		Expect(seq.Exit).To(Equal("exit 0"), seq.Output)
		Expect(callTexts(seq)).To(ContainElements(ContainSubstring(`"copy1.tmp"`), ContainSubstring(`"sub.tmp"`), MatchRegexp(`^unlinkat\("copy1.tmp"`)))
		tasks := map[int]bool{}
		for _, c := range seq.Calls {
			tasks[c.Task] = true
		}
		Expect(len(tasks)).To(BeNumerically(">=", 3), "the calls came from several processes")
	})

	It("with two threads writing at once: every write is stepped, one at a time", func(ctx SpecContext) {
		l := newLab()
		pair := fx.Same
		cfg := l.config(pair, writers.Properties{}, []string{os.Args[0], "threads", pair.B, l.target})
		cfg.ProbeEveryWrite = true
		seq, err := step.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(seq.Exit).To(Equal("exit 0"), seq.Output)
		logSequence(seq)
		writes, tasks := 0, map[int]bool{}
		for _, c := range seq.Calls {
			if c.Name == "pwrite64" {
				writes++
				tasks[c.Task] = true
			}
		}
		Expect(writes).To(Equal(int((pair.SizeB + threadsChunk - 1) / threadsChunk)))
		Expect(tasks).To(HaveLen(2), "two threads wrote")
		Expect(seq.Probes).To(Equal(writes + 2)) // every write, the open and the ftruncate
		Expect(firstState(seq, torn)).NotTo(BeNil())
		Expect(seq.States[len(seq.States)-1].Starting.Found).To(Equal(step.FoundNew))
	})
})
