package step_test

import (
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/step"
)

var _ = Describe("starting readers that share one lookup of each IP", func() {
	// Every state of an in-place update, and more: B's first bytes over
	// A, the whole of B over A, B truncated, an empty file, whole B.
	states := func(a, b []byte) map[string][]byte {
		out := map[string][]byte{"empty": nil, "whole B": b, "B's first half": b[:len(b)/2]}
		for _, n := range []int{4 << 10, 64 << 10, 128 << 10, len(b)} {
			torn := append([]byte(nil), a...)
			copy(torn, b[:n])
			out[fmt.Sprintf("B's first %d bytes over A", n)] = torn
		}
		return out
	}

	look := func(target string, regs []readers.Registration) []step.ReaderOutcome {
		r, err := step.NewRestarter(step.RestartConfig{Target: target, Old: fx.Shrink.A, New: fx.Shrink.B,
			OldName: "A", NewName: "B", Readers: regs, Oracle: fx.Shrink.Universe, Seed: 7})
		Expect(err).NotTo(HaveOccurred())
		defer r.Close()
		_, out := r.Look()
		return out
	}

	It("judge every state exactly as each reader alone does", func() {
		a, err := os.ReadFile(fx.Shrink.A)
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(fx.Shrink.B)
		Expect(err).NotTo(HaveOccurred())
		regs := probed()
		var unsafe int
		for name, content := range states(a, b) {
			target := filepath.Join(GinkgoT().TempDir(), "db.mmdb")
			Expect(os.WriteFile(target, content, 0o644)).To(Succeed())
			together := look(target, regs)
			Expect(together).To(HaveLen(len(regs)))
			for i, r := range regs {
				alone := look(target, []readers.Registration{r})
				Expect(together[i]).To(Equal(alone[0]), "%s, reader %s", name, r.Name)
				if o := together[i].Starting; o.Errors+o.Wrong+o.OpenErrors > 0 {
					unsafe++
				}
			}
		}
		// The states exercise failed and wrong lookups, not only right ones.
		Expect(unsafe).To(BeNumerically(">=", 6))
	})
})
