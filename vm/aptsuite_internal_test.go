package vm

import (
	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// (ginkgo is not dot-imported here: its deprecated Reporter would clash
// with this package's.)

var _ = g.Describe("suiteSource (the backports suite of the host's mirror)", func() {
	bookworm := []hostTarget{
		{"http://mirror.example/debian/", "bookworm", "main"},
		{"http://mirror.example/debian/", "bookworm-updates", "main"},
		{"http://mirror.example/debian-security/", "bookworm-security", "main"},
		{"https://vendor.example/apt/", "nodistro", "main"},
	}

	g.It("adds RELEASE-backports on the mirror of the host's release, not on another repository's", func() {
		Expect(suiteSource(bookworm, "backports")).To(Equal(
			"Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm-backports\nComponents: main\n"))
	})

	g.It("adds nothing when the host has the suite already", func() {
		with := append(append([]hostTarget{}, bookworm...), hostTarget{"http://mirror.example/debian/", "bookworm-backports", "main"})
		Expect(suiteSource(with, "backports")).To(BeEmpty())
	})

	g.It("takes a lone release without siblings", func() {
		Expect(suiteSource(bookworm[:1], "backports")).To(ContainSubstring("Suites: bookworm-backports\n"))
	})

	g.It("says so when the host names no Debian release", func() {
		_, err := suiteSource([]hostTarget{{"http://x/", "bookworm-security", "main"}}, "backports")
		Expect(err).To(MatchError(ContainSubstring("the host's apt sources name no Debian release with a main component")))
	})
})
