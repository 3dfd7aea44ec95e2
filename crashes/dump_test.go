package crashes_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/crashes"
)

// The dumps in testdata are real: a reader child (`mapchaos reader`) and a
// small program sent SIGQUIT, each dumping every thread (GOTRACEBACK=crash,
// set by the reader on SIGQUIT).
var _ = Describe("a SIGQUIT goroutine dump", func() {
	DescribeTable("says which call the busy goroutine was in",
		func(file, stuckIn, busy string) {
			t := crashes.Parse(read(file))
			Expect(t.Quit).To(Equal("SIGQUIT: quit"))
			Expect(t.Kind).To(BeEmpty(), "a dump is no crash")
			Expect(t.Busy).To(HavePrefix(busy))
			Expect(t.StuckIn(2)).To(Equal(stuckIn))
			Expect(t.Summary(8)).To(HavePrefix("SIGQUIT: quit\nstuck in " + t.StuckIn(1) + "\n" + t.Busy + "\n"))
		},
		Entry("a bytes reader reading the target: the standard-library call, then the reader's frame", "go-sigquit-reader-bytes.txt",
			"os.ReadFile (os/file.go:871) <- github.com/mapchaos/mapchaos/readers.Bytes.Open (readers/strategy.go:141)",
			"goroutine 1 gp=0x3a083819c1e0 m=8 mp=0x3a0839388808 [syscall]:"),
		Entry("an mmap reader checking an answer (preempted by the dump: runnable, not the stdin reader in a syscall)", "go-sigquit-reader-mmap.txt",
			"github.com/mapchaos/mapchaos/fixtures.Universe.Verify (fixtures/record.go:90) <- github.com/mapchaos/mapchaos/fixtures.Universe.Check (fixtures/own.go:131)",
			"goroutine 1 gp=0x3ceb844a41e0 m=nil [runnable]:"),
		Entry("a goroutine running on another thread: its stack from its own thread's part of the dump", "go-sigquit-crash-other-thread.txt",
			"main.main (tbtest/main.go:36)",
			"goroutine 1 gp=0x2879925761e0 m=5 mp=0x2879925af808 [running]:"),
	)

	It("is not taken for a dump when a fatal error came first, and a crash has no stuck-in", func() {
		t := crashes.Parse(read("go-sigbus-amd64.txt"))
		Expect(t.Quit).To(BeEmpty())
		Expect(t.StuckIn(3)).To(BeEmpty())
		Expect(t.Summary(3)).To(HavePrefix("fatal error: fault\n"))
	})
})
