// Package config reads ginkgo.yml, the harness's own configuration (Ginkgo
// itself reads no config file): the fixture, the race settings, which
// writers and readers make the matrix, and the expected verdict of each
// combination. The `matrix` command and the Ginkgo suites read the same
// file. An unknown key, writer, reader or verdict is an error that names it,
// with its line, and says what would be right. Load reads at most MaxSize
// (1 MiB), so a wrong path such as /dev/zero is refused at once, and
// LoadContext stops when its context ends.
//
// An expectation may be scoped to file systems (fs: overlay) and modes
// (mode: step): the first one that matches a combination and whose scope
// takes in the run (Where) applies, so scoped entries go before the
// general ones. Expectations are compared against observations; they are
// never used as observations.
package config
