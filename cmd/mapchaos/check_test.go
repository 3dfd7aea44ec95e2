package main_test

import (
	"os"
	"path/filepath"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("mapchaos check: bad usage or input exits 2, names the problem, starts and writes nothing", func() {
	DescribeTable("check",
		func(args []string, msg string) {
			dir := GinkgoT().TempDir()
			s := mapchaos(dir, append([]string{"check", "--out", "out"}, args...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote(msg)))
			Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
		},
		Entry("no --writer-cmd", []string{}, "--writer-cmd is required"),
		Entry("an empty --writer-cmd", []string{"--writer-cmd", " "}, "--writer-cmd is empty"),
		Entry("a program that does not exist", []string{"--writer-cmd", "no-such-updater {new} {target}"},
			`program "no-such-updater": not found in $PATH`),
		Entry("a script that does not exist", []string{"--writer-cmd", "./bin/update.sh {new} {target}"},
			`program "./bin/update.sh": no such file`),
		Entry("no {target}", []string{"--writer-cmd", "cp {new} /srv/GeoIP2-City.mmdb"}, "has no {target} argument: it would not know which file to update"),
		Entry("a variable that no shell expands", []string{"--writer-cmd", "cp $NEW {target}"},
			`--writer-cmd: $NEW (column 4 of "cp $NEW {target}") would reach cp as the four characters $NEW: no shell runs the command, so nothing expands it; run it through a shell, e.g. sh -c '...' sh {new} {target}`),
		Entry("a variable after the script of sh -c", []string{"--writer-cmd", `sh -c 'cp "$1" "$2"' sh "$NEW" {target}`}, "$NEW (column 26"),
		Entry("a placeholder as the program", []string{"--writer-cmd", "{new} {target}"}, "the program cannot be a placeholder"),
		Entry("an unterminated quote", []string{"--writer-cmd", "sh -c 'cp {new} {target}"}, "--writer-cmd: unterminated single quote at column 7"),
		Entry("a shell operator", []string{"--writer-cmd", "cp {new} {target}.tmp && mv {target}.tmp {target}"}, "--writer-cmd: unquoted && at column 23"),
		Entry("an unknown reader", []string{"--writer-cmd", "cp {new} {target}", "--readers", "mmap,mmapp"}, `--readers: unknown reader "mmapp"`),
		Entry("the foreign reader by name", []string{"--writer-cmd", "cp {new} {target}", "--readers", "exec"}, "a foreign reader is given with --reader-cmd"),
		Entry("no reader at all", []string{"--writer-cmd", "cp {new} {target}", "--readers", ""}, "no reader to race the updater against"),
		Entry("a reader command without {target}", []string{"--writer-cmd", "cp {new} {target}", "--reader-cmd", "python3 reader.py"}, "--reader-cmd: reader command \"python3 reader.py\" has no {target} argument"),
		Entry("a reader command that does not exist", []string{"--writer-cmd", "cp {new} {target}", "--reader-cmd", "no-such-reader {target}"}, `--reader-cmd: program "no-such-reader"`),
		Entry("a typed reader with an own pair", []string{"--writer-cmd", "cp {new} {target}", "--readers", "mmap,geoip2-enterprise", "--old", "a.mmdb", "--new", "b.mmdb"},
			"--readers: geoip2-enterprise checks its answers in the typed fields of a generated geoip2-enterprise fixture, so it cannot race your own pair (--old/--new)"),
		Entry("typed readers of two kinds", []string{"--writer-cmd", "cp {new} {target}", "--readers", "geoip2-city,geoip2-enterprise"},
			"--readers: geoip2-city needs a geoip2-city fixture and geoip2-enterprise a geoip2-enterprise one: check them in separate runs"),
		Entry("--old without --new", []string{"--writer-cmd", "cp {new} {target}", "--old", "a.mmdb"}, "--old and --new go together"),
		Entry("an own pair that is not a database", []string{"--writer-cmd", "cp {new} {target}", "--old", "/etc/hostname", "--new", "/etc/hostname"}, "/etc/hostname is not a valid MaxMind DB file"),
		Entry("an unknown mode", []string{"--writer-cmd", "cp {new} {target}", "--mode", "fast"}, `--mode "fast": want race, step or power-loss`),
		Entry("an unknown persistence model", []string{"--writer-cmd", "cp {new} {target}", "--mode", "power-loss", "--model", "zfs"}, `--model: unknown persistence model "zfs": want posix or ext4-ordered`),
		Entry("an unknown target kind", []string{"--writer-cmd", "cp {new} {target}", "--target-kind", "dir"}, `--target-kind "dir": want file or symlink`),
		Entry("no updates", []string{"--writer-cmd", "cp {new} {target}", "--updates", "0"}, "--updates 0: want 1 to 10000"),
		Entry("a fixture too small", []string{"--writer-cmd", "cp {new} {target}", "--size", "1KiB"}, "--size 1KiB: want 64KiB to 1GiB"),
		Entry("an unknown shape", []string{"--writer-cmd", "cp {new} {target}", "--shape", "huge"}, `--shape "huge": want same, shrink or grow`),
		Entry("a zero timeout", []string{"--writer-cmd", "cp {new} {target}", "--writer-timeout", "0s"}, "--writer-timeout 0s: want a positive duration"),
		Entry("an unquoted command", []string{"--writer-cmd", "cp", "{new}", "{target}"}, `unexpected argument "{new}": check takes only flags (quote the whole command`),
	)

	It("explains the placeholders, the word splitting and the exit statuses in its help", func() {
		s := mapchaos(GinkgoT().TempDir(), "check", "-h")
		Eventually(s).Should(gexec.Exit(0), "help is not an error")
		Expect(s.Out).To(gbytes.Say(`\{new\}\s+a fresh copy of the version to install`))
		Expect(s.Out).To(gbytes.Say(`split into words like a shell would`))
		Expect(s.Out).To(gbytes.Say(`1  the updater is unsafe`))
		Expect(s.Out).To(gbytes.Say(`-writer-timeout duration`))
	})
})

var _ = Describe("mapchaos check, for real", Serial, func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	check := func(args ...string) *gexec.Session {
		return mapchaos(dir, append([]string{"check", "--out", "out"}, args...)...)
	}
	report := func() reports.Report {
		GinkgoHelper()
		r, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	It("exits 0 for an updater that renames, printing a line per reader, the table and the report", func() {
		s := check("--writer-cmd", "mv {new} {target}", "--readers", "mmap,bytes", "--updates", "4", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`updater: mv \{new\} \{target\} \(target: file\)`))
		Expect(s.Out).To(gbytes.Say(`\[1/2 .*\] exec x mmap\s+safe\s+ok`))
		Expect(s.Out).To(gbytes.Say(`\[2/2 .*\] exec x bytes\s+safe\s+ok`))
		Expect(s.Out).To(gbytes.Say(`READER\s+VERDICT\s+RUNNING\s+STARTING`))
		Expect(s.Out).To(gbytes.Say(`SAFE: every reader got the right answer`))
		Expect(s.Out).To(gbytes.Say(`hint: a race sees only the moments .* run the same check with --mode step`))
		for _, f := range []string{"report.json", "report.md", "report.html", "junit.xml"} {
			Expect(filepath.Join(dir, "out", f)).To(BeAnExistingFile())
		}
		r := report()
		Expect(r.Results).To(HaveLen(2))
		Expect(r.Results[0].Writer).To(Equal("exec"))
		Expect(r.Results[0].Expected).To(Equal("safe|degraded|recovered"))
		Expect(r.Results[0].Met).To(BeTrue())
		log, err := os.ReadFile(filepath.Join(dir, "out", "runs", "exec_x_mmap", "writer.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(ContainSubstring("== update 4: exit status 0"))
	})

	It("exits 1 for an updater that rewrites the file in place, with the evidence and a repro", func() {
		s := check("--writer-cmd", "cp {new} {target}", "--readers", "mmap", "--updates", "4")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`exec x mmap\s+crash\s+UNSAFE`))
		Expect(s.Out).To(gbytes.Say(`mmap: crash in a (running|starting) reader: SIGBUS BUS_ADRERR`))
		// The fault lies between the start of the reader's last lookup and
		// its death; a lookup that began just before the first update names
		// that update among the steps the writer began meanwhile.
		Expect(s.Out).To(gbytes.Say(`the updater was at: .*update \d (of 4|step \d+: exec cp)`))
		Expect(s.Out).To(gbytes.Say(regexpQuote("repro: mapchaos check --writer-cmd 'cp {new} {target}' --readers mmap --updates 4 --seed 1")))
		Expect(s.Out).To(gbytes.Say(`UNSAFE: the updater made readers crash, get stuck or serve wrong answers: mmap crash`))
		Expect(report().Results[0].Met).To(BeFalse())
	})

	It("generates the fixture a typed reader needs: Enterprise lookups crash under cp with their own frame", func() {
		s := check("--writer-cmd", "cp {new} {target}", "--readers", "bytes,geoip2-enterprise", "--updates", "4", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`exec x geoip2-enterprise\s+crash\s+UNSAFE`))
		r := report()
		Expect(r.Run.Fixture).To(ContainSubstring("geoip2-enterprise"))
		Expect(r.Results).To(HaveLen(2))
		e := r.Results[1]
		Expect(e.Reader).To(Equal("geoip2-enterprise"))
		Expect(e.Verdict.String()).To(Equal("crash"))
		stderr, err := os.ReadFile(filepath.Join(dir, "out", "runs", "exec_x_geoip2-enterprise", "readers", e.Evidence.Reader+".stderr"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stderr)).To(ContainSubstring("github.com/oschwald/geoip2-golang.(*Reader).Enterprise"))
	})

	It("exits 0 with a note when readers only met errors", func() {
		s := check("--writer-cmd", `sh -c 'rm -f "$2"; sleep 0.1; mv "$1" "$2"' sh {new} {target}`, "--readers", "bytes", "--updates", "4", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`exec x bytes\s+degraded\s+ok`))
		Expect(s.Out).To(gbytes.Say(`note: bytes was degraded`))
		Expect(s.Out).To(gbytes.Say(`OK: no reader crashed, got stuck or was served a wrong answer; with notes: bytes degraded`))
	})

	It("races a symlink target", func() {
		s := check("--writer-cmd", "ln -sfn {new} {target}", "--target-kind", "symlink", "--readers", "mmap", "--updates", "4", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`\(target: symlink\)`))
		Expect(s.Out).To(gbytes.Say(`exec x mmap\s+safe`))
	})

	DescribeTable("accepts commands as users write them",
		func(cmd string) {
			s := check("--writer-cmd", cmd, "--readers", "bytes", "--updates", "2", "--size", "256KiB")
			Eventually(s).Should(gexec.Exit(0))
			Expect(report().Results[0].WriterError).To(BeEmpty())
		},
		Entry("placeholders inside words", "dd if={new} of={target} status=none"),
		Entry("$1 and $2 in the double-quoted script of sh -c", `sh -c "dd if=$1 of=$2 status=none" sh {new} {target}`),
	)

	It("kills a daemon the updater started and names it in writer.log", func() {
		s := check("--writer-cmd", daemonScript(dir, "300.6607")+" {new} {target}", "--readers", "bytes", "--updates", "2", "--size", "256KiB")
		Eventually(s).Should(gexec.Exit())
		Expect(proctest.Mentioning("sleep 300.6607")).To(BeEmpty())
		log, err := os.ReadFile(filepath.Join(dir, "out", "runs", "exec_x_bytes", "writer.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(MatchRegexp("== update 1: pid \\d+ .*, started by the updater, still running after it exited: killed\n"))
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results[0].Leftovers).To(ContainElement(MatchRegexp("^pid \\d+ `sleep 300.6607`, started by the updater, still running after it exited: killed$")))
	})

	It("exits 1 for an updater that fails, showing its output, and races no further reader", func() {
		s := check("--writer-cmd", `sh -c 'echo "cannot write $2" >&2; exit 5' sh {new} {target}`, "--readers", "mmap,bytes", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`\[1/2 .*\] exec x mmap\s+UPDATER FAILED: update 1 \(A->B\): updater command .* failed: exit status 5 \(ran \d+ms\)\n`))
		Expect(s.Out).To(gbytes.Say(`the updater failed: not racing the other 1 readers`))
		Expect(s.Out).To(gbytes.Say(`UPDATER FAILED \(racing reader mmap\): this is the updater's own failure, not a reader verdict`))
		Expect(s.Out).To(gbytes.Say(`\| cannot write .*/out/runs/exec_x_mmap/data/db.mmdb`))
		Expect(s.Out).To(gbytes.Say(`its output of every update: .*/out/runs/exec_x_mmap/writer.log`))
		r := report()
		Expect(r.Results).To(HaveLen(1))
		Expect(r.Results[0].WriterError).To(ContainSubstring("exit status 5"))
	})

	It("exits 1 for an updater that hangs, and leaves no process of it behind", func() {
		s := check("--writer-cmd", `sh -c 'sleep 50.1234 & sleep 50.4321' sh {target}`, "--writer-timeout", "500ms", "--readers", "mmap", "--size", "1MiB")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`note: the updater command has no \{new\} argument`))
		Expect(s.Out).To(gbytes.Say(`timed out after 500ms \(--writer-timeout\): killed its process group`))
		Expect(proctest.StartingWith("sleep 50.")).To(BeEmpty())
	})

	It("on Ctrl-C stops the updater and every reader, and exits 3", func() {
		s := check("--writer-cmd", `sh -c 'sleep 51.777; mv "$1" "$2"' sh {new} {target}`, "--readers", "mmap", "--size", "1MiB")
		Eventually(func() []string { return proctest.StartingWith("sleep 51.777") }).ShouldNot(BeEmpty())
		s.Signal(syscall.SIGINT)
		Eventually(s).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("interrupted"))
		Expect(proctest.StartingWith("sleep 51.777")).To(BeEmpty())
		Expect(proctest.Mentioning(filepath.Join(dir, "out"))).To(BeEmpty())
	})
})

var _ = Describe("mapchaos check --mode step, on real tools", Serial, Label("ptrace"), func() {
	DescribeTable("steps the updater under ptrace and gates on what the states did to the readers",
		func(cmd string, code int, firstUnsafe string) {
			dir := GinkgoT().TempDir()
			s := mapchaos(dir, "check", "--out", "out", "--mode", "step", "--size", "256KiB", "--readers", "mmap,bytes", "--writer-cmd", cmd)
			Eventually(s).Should(gexec.Exit(code))
			rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.Mode).To(Equal("step"))
			Expect(rep.Run.WriterCmd).To(Equal(cmd))
			Expect(rep.Results).To(HaveLen(2))
			st := rep.Results[0].Step
			Expect(st).NotTo(BeNil())
			Expect(st.Updates).To(HaveLen(2))
			up := st.Updates[0]
			// Step mode has looked inside every window: no hint to do so.
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("--mode step to stop"))
			if firstUnsafe == "" {
				Expect(up.FirstUnsafe).To(BeZero())
				return
			}
			var call string
			for _, state := range up.States {
				if state.N == up.FirstUnsafe {
					call = state.Call
				}
			}
			Expect(call).To(ContainSubstring(firstUnsafe))
		},
		Entry("cp: the truncating open is the first unsafe state", "cp {new} {target}", 1, "O_TRUNC"),
		Entry("mv: no unsafe state", "mv {new} {target}", 0, ""),
		Entry("install: the unlink leaves no path", "install -m 0644 {new} {target}", 0, "unlinkat"),
	)

	It("fails an updater that exits 0 without installing the new version, as race mode does", func() {
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "check", "--out", "out", "--mode", "step", "--size", "256KiB", "--readers", "mmap", "--writer-cmd", "touch {target}")
		Eventually(s).Should(gexec.Exit(1))
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results).To(HaveLen(1))
		Expect(rep.Results[0].WriterError).To(ContainSubstring("update A->B: updater command touch {target} failed: exit status 0, but it did not install the new version"))
	})

	It("leaves no daemon of the updater behind", func() {
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "check", "--out", "out", "--mode", "step", "--size", "256KiB", "--readers", "mmap",
			"--writer-cmd", daemonScript(dir, "300.8317")+" {new} {target}")
		Eventually(s).Should(gexec.Exit())
		Expect(proctest.Mentioning("sleep 300.8317")).To(BeEmpty())
	})
})

// daemonScript writes an updater to dir and returns its path: it installs
// {new} ($1) at {target} ($2) and leaves sleep secs running in a session of
// its own, as a daemon would; it exits once the daemon has called setsid,
// so that only tracking, not killing the updater's process group, can
// catch it.
func daemonScript(dir, secs string) string {
	GinkgoHelper()
	p := filepath.Join(dir, "update-and-daemon.sh")
	Expect(os.WriteFile(p, []byte(`#!/bin/sh
cp "$1" "$2"
setsid sh -c 'touch "$0.ready"; exec sleep `+secs+`' "$2" >/dev/null 2>&1 &
while [ ! -e "$2.ready" ]; do sleep 0.01; done
rm "$2.ready"
`), 0o755)).To(Succeed())
	return p
}
