package engine

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/results"
)

var _ = Describe("judging a reader stuck", func() {
	const s = int64(time.Second)
	cfg := Config{StuckAfter: 5 * time.Second, Pair: fixtures.Pair{SizeA: 256 << 20, SizeB: 154 << 20}}.withDefaults()
	reader := func(movedAt, opening int64) *proc {
		p := newProc("running-1", results.Running, "", "")
		p.movedAt, p.opening = movedAt, opening
		return p
	}

	It("allows a reader inside an open the time to read the larger version at SlowRead", func() {
		r := &run{cfg: cfg}
		// 256 MiB at 16 MiB/s: 16s more than stuck_after.
		Expect(r.stuck(reader(100*s, 101*s), 101*s+20*s)).To(BeFalse())
		p := reader(100*s, 101*s)
		Expect(r.stuck(p, 101*s+22*s)).To(BeTrue())
		Expect(p.stuckWhy).To(Equal("inside one open of the target for 22s (allowed: stuck_after 5s plus 16s to read 256 MiB at 16 MiB/s)"))
	})

	It("does not allow it outside an open", func() {
		p := reader(100*s, 0)
		Expect((&run{cfg: cfg}).stuck(p, 106*s)).To(BeTrue())
		Expect(p.stuckWhy).To(Equal("no progress for 5s"))
	})

	It("waits for a reader's ready 10s plus the same allowance, unless told otherwise", func() {
		Expect(cfg.ReadyTimeout).To(Equal(26 * time.Second))
		Expect(cfg.readyDefault).To(BeTrue())
		own := Config{ReadyTimeout: 3 * time.Second}.withDefaults()
		Expect(own.ReadyTimeout).To(Equal(3 * time.Second))
		Expect(own.readyDefault).To(BeFalse())
	})
})

var _ = Describe("stopping a reader inside an open", func() {
	// A child that ignores "stop" on its stdin, as a reader blocked in a
	// long open does; SIGQUIT ends it.
	start := func() *proc {
		dir := GinkgoT().TempDir()
		p, err := startChild("starting-u01-1", results.Starting, []string{"sleep", "60"},
			filepath.Join(dir, "stderr"), filepath.Join(dir, "ring"), os.Environ())
		Expect(err).NotTo(HaveOccurred())
		return p
	}

	It("waits for the open allowance from the start of that open before it kills", func() {
		p := start()
		p.mu.Lock()
		p.opening = clock.Now()
		p.mu.Unlock()
		began := time.Now()
		p.stop(100*time.Millisecond, time.Second, "1s to read 16 MiB at 16 MiB/s")
		Expect(time.Since(began)).To(BeNumerically(">=", time.Second))
		Expect(p.killed).To(BeTrue())
		Expect(p.stopWhy).To(Equal("within 100ms of being asked, nor within 1.1s of the start of the open it was in (100ms plus 1s to read 16 MiB at 16 MiB/s)"))
	})

	It("gives a reader outside an open the grace alone", func() {
		p := start()
		p.stop(100*time.Millisecond, time.Hour, "")
		Expect(p.killed).To(BeTrue())
		Expect(p.stopWhy).To(Equal("within 100ms of being asked"))
	})
})
