// Command skipsuite is a Ginkgo suite run as a plain program (not a
// _test.go file, so that ginkgo -r does not run it): internal/skips' specs
// run it with --ginkgo.json-report and read what Ginkgo wrote. Each spec
// ends the way a spec of the real suites does.
package main

import (
	"flag"
	"os"

	. "github.com/onsi/ginkgo/v2"

	"github.com/mapchaos/mapchaos/internal/needs"
)

// t is what RunSpecs needs of a *testing.T.
type t struct{ failed bool }

func (t *t) Fail() { t.failed = true }

var _ = Describe("tools", func() {
	It("needs a program no machine has", func() {
		needs.Program("mapchaos-no-such-package", "mapchaos-no-such-program", "mapchaos-no-such-program-either")
	})
	It("needs sh, which every machine has", func() {
		if needs.Program("dash", "sh") == "" {
			Fail("needs.Program returned no path")
		}
	})
})

var _ = Describe("a container without pseudo-terminals", Ordered, func() {
	BeforeAll(func() { Skip("no pseudo-terminals here: open /dev/ptmx: no such file or directory") })
	It("first", func() {})
	It("second", func() {})
})

var _ = It("skips a combination without an expectation", func() {
	Skip("no expectation in ginkgo.yml for cp x mmap; observed crash")
})

var _ = It("is left out by the label filter", Label("other"), func() {})

func main() {
	flag.Parse()
	var tt t
	RunSpecs(&tt, "Skip Fixture Suite")
	if tt.failed {
		os.Exit(1)
	}
}
