package needs

import (
	"os"
	"os/exec"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// MissingPrefix starts the message of every spec ended by this package.
const MissingPrefix = "missing: "

// Program returns the path of the first of names found in $PATH. When none
// is there, the spec ends (see Missing): pkg is the Debian package that
// provides them.
func Program(pkg string, names ...string) string {
	ginkgo.GinkgoHelper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(strings.Join(names, " or ")+" (not in $PATH)", pkg)
	return ""
}

// Missing ends the current spec because what is not on this machine: it
// fails when CI is set and skips otherwise. pkg is the Debian package that
// provides it.
func Missing(what, pkg string) {
	ginkgo.GinkgoHelper()
	msg := Message(what, pkg)
	if os.Getenv("CI") != "" {
		ginkgo.Fail(msg + "; CI must install every package the suites use")
	}
	ginkgo.Skip(msg)
}

// Message is the text of Missing: what is missing, its package, and how to
// install it.
func Message(what, pkg string) string {
	return MissingPrefix + what + ": install the Debian package " + pkg +
		" (make deps, or apt-get install --no-install-recommends " + pkg + ")"
}
