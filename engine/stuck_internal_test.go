package engine

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
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
