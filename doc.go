// Package mapchaos is a chaos-testing harness for programs that read
// memory-mapped files: it races updaters (writers) against readers in real
// processes and reports which combinations crash, and how.
//
// Layout: cmd/mapchaos is the CLI; harness assembles every run (plan,
// mode, environment); engine races one writer x reader by timing, step
// steps a writer under ptrace; writers/ and readers/ hold the strategies;
// fixtures/ generates self-checking .mmdb pairs; results/ and reports/ hold
// what a run earned and write report.json/.md/.html and junit.xml;
// crashes/ and explain/ read crash traces; vm/ boots the arm64 guest;
// matchers/ holds Gomega matchers; suites/ the Ginkgo suites.
// DefaultConfig is the repository's ginkgo.yml, built into every binary.
//
// # Testing your own updater
//
// This package is the library for a team's own Ginkgo suite: Race races one
// writer against readers of one strategy and returns a results.Result, and
// the matchers package judges it:
//
//	var _ = Describe("our GeoIP updater", func() {
//		It("never crashes a reader that maps the database", func(ctx SpecContext) {
//			result, err := mapchaos.Race(ctx,
//				writers.Command("./bin/update-geoip", "{new}", "{target}"),
//				mapchaos.Reader("mmap"), mapchaos.Updates(20))
//			Expect(err).NotTo(HaveOccurred())
//			Expect(result).To(matchers.BeSafe())
//		})
//	})
//
// writers.Command runs your updater once per update, with {new} replaced by
// a fresh copy of the version to install and {target} by the file the
// readers use; it never sees a real file, only the target in the race's
// own directory. Built-in writers (writers.Rename{}, writers.Cp{} ...) race
// the same way. Reader returns a built-in reader strategy ("mmap",
// "mmap-recover", "mmap-v2", "bytes" ..., see `mapchaos list`);
// readers.Foreign describes a reader in another language.
//
// Race's error is nil when the race ran to its end; it wraps
// ErrWriterFailed when the updater itself failed (exited non-zero, hung past
// its timeout, or did not install the new version), so a broken updater
// never passes for a safe one.
//
// Options set the number of updates (Updates), the seed (Seed), the fixture
// (FixtureSize, FixtureShape, CacheDir), the readers per race (Readers), a
// symlink target (SymlinkTarget), a run directory to keep (RunDir) and the
// reader executable (ReaderBinary).
//
// Readers run as child processes of the mapchaos executable, so that a
// SIGBUS kills a child and not your test. Race finds it with FindBinary:
// ReaderBinary if given, else $MAPCHAOS_BIN, else mapchaos in $PATH, else it
// builds github.com/mapchaos/mapchaos/cmd/mapchaos with `go build` once per
// process into the user cache directory (mapchaos/bin). For that build,
// every module the command needs must be in your go.sum: add it as a tool
// with `go get -tool github.com/mapchaos/mapchaos/cmd/mapchaos`, which also
// gives you `go tool mapchaos check ...`.
//
// A race by timing is not deterministic: a combination that can crash may
// come out safe on one run. Expect the worst outcome you can accept
// (matchers.BeNoWorseThan), race enough updates, and remember that safe
// means "no failure observed". The examples directory holds a suite that
// reads like a team's own.
package mapchaos
