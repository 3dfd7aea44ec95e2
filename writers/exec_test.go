package writers_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/internal/shell"
	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("Exec.Validate", func() {
	DescribeTable("refuses a command that cannot run, saying why",
		func(e writers.Exec, msg string) {
			Expect(e.Validate()).To(MatchError(ContainSubstring(msg)))
		},
		Entry("empty", writers.Command(), "the updater command is empty"),
		Entry("a blank program", writers.Command(" ", "{target}"), "the updater command is empty"),
		Entry("no {target}", writers.Command("cp", "{new}", "/tmp/x"), "has no {target} argument: it would not know which file to update"),
		Entry("{target} only in the program", writers.Command("/bin/{target}", "{new}"), "the program cannot be a placeholder"),
		Entry("a placeholder as the program", writers.Command("{new}", "{target}"), "the program cannot be a placeholder"),
		Entry("a program not in PATH", writers.Command("no-such-updater-xyz", "{new}", "{target}"),
			`program "no-such-updater-xyz": not found in $PATH`),
		Entry("a path that does not exist", writers.Command("./no/such/update.sh", "{new}", "{target}"), "no such file"),
		Entry("a directory", writers.Command("/tmp/", "{new}", "{target}"), "is a directory"),
		Entry("a negative timeout", writers.Exec{Argv: []string{"cp", "{new}", "{target}"}, Timeout: -time.Second}, "negative"),
	)

	It("refuses a file that is not executable", func() {
		p := writeFile(GinkgoT().TempDir(), "update.sh", []byte("#!/bin/sh\n"))
		Expect(writers.Command(p, "{new}", "{target}").Validate()).To(MatchError(ContainSubstring("not executable")))
	})

	It("accepts a command without {new}: it finds the version in $MAPCHAOS_NEW", func() {
		e := writers.Command("sh", "-c", `cp "$MAPCHAOS_NEW" "$1"`, "sh", "{target}")
		Expect(e.Validate()).To(Succeed())
		Expect(e.HasNew()).To(BeFalse())
		Expect(writers.Command("cp", "{new}", "{target}").HasNew()).To(BeTrue())
	})

	It("accepts placeholders inside words", func() {
		e := writers.Command("dd", "if={new}", "of={target}", "conv=notrunc")
		Expect(e.Validate()).To(Succeed())
		Expect(e.HasNew()).To(BeTrue())
		Expect(writers.Command("sh", "-c", "cp {new} {target}").Validate()).To(Succeed())
	})

	It("resolves a relative program against Dir", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "up.sh"), []byte("#!/bin/sh\n"), 0o755)).To(Succeed())
		e := writers.Exec{Argv: []string{"./up.sh", "{target}"}, Dir: dir}
		Expect(e.Validate()).To(Succeed())
	})

	It("renders the command quoted, placeholders as written", func() {
		Expect(writers.Command("sh", "-c", `cat "$1" > "$2"`, "sh", "{new}", "{target}").String()).
			To(Equal(`sh -c 'cat "$1" > "$2"' sh {new} {target}`))
	})
})

// execFixture is a target directory holding db.mmdb (version A) and a
// pristine source B outside it.
type execFixture struct {
	dir, target, source string
	a, b                []byte
}

func newExecFixture() execFixture {
	GinkgoHelper()
	root := GinkgoT().TempDir()
	f := execFixture{dir: mkdir(root, "data"), a: randomBytes(1, 300<<10), b: randomBytes(2, 200<<10)}
	f.target = writeFile(f.dir, "db.mmdb", f.a)
	f.source = writeFile(mkdir(root, "versions"), "B.mmdb", f.b)
	return f
}

func (f execFixture) update(ctx context.Context, e writers.Exec, seq int) ([]string, error) {
	var r recorder
	err := e.Update(ctx, writers.Update{Target: f.target, Source: f.source, Seq: seq, Step: r.step})
	return r.steps, err
}

var _ = Describe("Exec.Update", func() {
	DescribeTable("runs the command once with {new} and {target}, and reports what it saw as steps",
		func(ctx SpecContext, line string, steps []string, left []string) {
			f := newExecFixture()
			argv, err := shell.Split(line)
			Expect(err).NotTo(HaveOccurred())
			// e.g. the arm64 guest of make test-arm64, whose busybox
			// has no install(1); CI's host must have every tool.
			needs.Program(map[bool]string{true: "dash", false: "coreutils"}[argv[0] == "sh"], argv[0])
			got, err := f.update(ctx, writers.Command(argv...), 3)
			Expect(err).NotTo(HaveOccurred())
			expectContent(f.target, f.b)
			Expect(got[0]).To(Equal("exec " + shell.Join(argv)))
			for _, s := range steps {
				Expect(got).To(ContainElement(s))
			}
			Expect(names(f.dir)).To(ConsistOf(left), "files left in the target's directory")
		},
		Entry("cp rewrites the target in place", "cp {new} {target}",
			[]string{"seen: db.mmdb written or truncated", "seen: db.mmdb closed after writing"}, []string{"db.mmdb"}),
		Entry("mv renames {new} over the target", "mv {new} {target}",
			[]string{"seen: {new} renamed to db.mmdb"}, []string{"db.mmdb"}),
		Entry("a shell redirection truncates the target", `sh -c 'cat "$1" > "$2"' sh {new} {target}`,
			[]string{"seen: db.mmdb written or truncated"}, []string{"db.mmdb"}),
		Entry("install(1) removes and recreates it", "install -m 0644 {new} {target}",
			[]string{"seen: db.mmdb removed", "seen: db.mmdb created"}, []string{"db.mmdb"}),
		Entry("dd with placeholders inside its words", "dd if={new} of={target} status=none",
			[]string{"seen: db.mmdb written or truncated"}, []string{"db.mmdb"}),
		Entry("a script of sh -c, in double quotes, that its shell expands", `sh -c "cp $1 $2.tmp && mv $2.tmp $2" sh {new} {target}`,
			[]string{"seen: db.mmdb.tmp renamed to db.mmdb"}, []string{"db.mmdb"}),
		Entry("a placeholder with a suffix", `sh -c 'cp "$1" "$2" && mv "$2" "$3"' sh {new} {target}.part {target}`,
			[]string{"seen: db.mmdb.part renamed to db.mmdb"}, []string{"db.mmdb"}),
		Entry("a command without {new} reads $MAPCHAOS_NEW", `sh -c 'cp "$MAPCHAOS_NEW" "$MAPCHAOS_TARGET.tmp" && mv "$MAPCHAOS_TARGET.tmp" "$1"' sh {target}`,
			[]string{"seen: db.mmdb.tmp renamed to db.mmdb"}, []string{"db.mmdb"}),
	)

	It("keeps the {new} file the target links to, and removes it once the link moves on", func(ctx SpecContext) {
		f := newExecFixture()
		ln := writers.Command("ln", "-sfn", "{new}", "{target}")
		_, err := f.update(ctx, ln, 1)
		Expect(err).NotTo(HaveOccurred())
		expectContent(f.target, f.b)
		Expect(names(f.dir)).To(ConsistOf("db.mmdb", "db.new-1.mmdb"))
		_, err = f.update(ctx, ln, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(names(f.dir)).To(ConsistOf("db.mmdb", "db.new-2.mmdb"))
	})

	It("fails with the command's output when it exits non-zero, and tidies {new}", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("sh", "-c", `echo "checking $1"; echo "no space left" >&2; exit 3`, "sh", "{target}"), 4)
		var ce *writers.CommandError
		Expect(errors.As(err, &ce)).To(BeTrue(), "%v", err)
		Expect(ce.Status).To(Equal("exit status 3"))
		Expect(ce.Update).To(Equal(4))
		Expect(ce.Output).To(Equal("checking " + f.target + "\nno space left\n"))
		Expect(err.Error()).To(MatchRegexp(`^updater command sh -c .* failed: exit status 3 \(ran [0-9.]+(ms|s)\); its output:\n`))
		Expect(err.Error()).To(ContainSubstring("\n  | no space left"))
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
		expectContent(f.target, f.a)
	})

	It("fails when the command exits 0 without installing the new version", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("touch", "{target}"), 1)
		Expect(err).To(MatchError(ContainSubstring("exit status 0, but it did not install the new version: {target} holds 307200 bytes, the new version 204800")))
		_, err = f.update(ctx, writers.Command("sh", "-c", `cp "$1" "$2" && printf X | dd of="$2" bs=1 seek=1000 conv=notrunc 2>/dev/null`, "sh", "{new}", "{target}"), 2)
		Expect(err).To(MatchError(ContainSubstring("{target} differs from the new version at byte 1000")))
	})

	It("reports a death by signal", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("sh", "-c", `kill -SEGV $$`, "sh", "{target}"), 1)
		Expect(err).To(MatchError(ContainSubstring("killed by SIGSEGV (signal 11)")))
	})

	It("kills the whole process group of a command that hangs, and reaps it", func(ctx SpecContext) {
		f := newExecFixture()
		e := writers.Command("sh", "-c", `sleep 30.4871 & echo started; sleep 30.4872`, "sh", "{target}")
		e.Timeout = 300 * time.Millisecond
		began := time.Now()
		_, err := f.update(ctx, e, 1)
		Expect(time.Since(began)).To(BeNumerically("<", 3*time.Second))
		var ce *writers.CommandError
		Expect(errors.As(err, &ce)).To(BeTrue(), "%v", err)
		Expect(ce.TimedOut).To(BeTrue())
		Expect(ce.Status).To(HavePrefix("timed out after 300ms"))
		Expect(ce.Output).To(Equal("started\n"))
		Expect(proctest.Mentioning("sleep 30.487")).To(BeEmpty())
	})

	It("stops the command when ctx is cancelled", func(ctx SpecContext) {
		f := newExecFixture()
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := f.update(c, writers.Command("sh", "-c", `sleep 30.5391 & sleep 30.5392`, "sh", "{target}"), 1)
		Expect(err).To(MatchError(context.Canceled))
		Expect(proctest.Mentioning("sleep 30.539")).To(BeEmpty())
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
	})

	It("kills what a successful command left running in its group", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("sh", "-c", `(sleep 30.6113 >/dev/null 2>&1 &); cp "$1" "$2"`, "sh", "{new}", "{target}"), 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(proctest.Mentioning("sleep 30.611")).To(BeEmpty())
	})

	It("kills a daemon the updater started in a session of its own, and names it", func(ctx SpecContext) {
		needs.Program("util-linux", "setsid")
		f := newExecFixture()
		var left []string
		var log bytes.Buffer
		// The updater waits until the daemon has left its process group
		// and session, or killing the group might get it first.
		e := writers.Command("sh", "-c", daemon("300.7193"), "sh", "{new}", "{target}")
		e.Output = &log
		err := e.Update(ctx, writers.Update{Target: f.target, Source: f.source, Seq: 1,
			Leftover: func(d string) { left = append(left, d) }})
		Expect(err).NotTo(HaveOccurred())
		expectContent(f.target, f.b)
		GinkgoWriter.Println(left)
		Expect(proctest.Mentioning("sleep 300.7193")).To(BeEmpty())
		// The daemon may not have exec'd sleep yet: it is named by what it
		// was running then.
		Expect(left).To(ConsistOf(MatchRegexp("^pid \\d+ `(sh -c .*)?sleep 300.7193.*`, started by the updater, still running after it exited: killed$")))
		Expect(log.String()).To(ContainSubstring("== update 1: " + left[0] + "\n"))
	})

	It("names nothing when the updater leaves nothing running", func(ctx SpecContext) {
		f := newExecFixture()
		var left []string
		err := writers.Command("cp", "{new}", "{target}").Update(ctx, writers.Update{Target: f.target, Source: f.source, Seq: 1,
			Leftover: func(d string) { left = append(left, d) }})
		Expect(err).NotTo(HaveOccurred())
		Expect(left).To(BeEmpty())
	})

	It("keeps the start and the end of a long output, and writes every run to Output", func(ctx SpecContext) {
		f := newExecFixture()
		var all bytes.Buffer
		e := writers.Command("sh", "-c", `echo first; i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo last; exit 1`, "sh", "{target}")
		e.OutputLimit, e.Output = 1000, &all
		_, err := f.update(ctx, e, 7)
		var ce *writers.CommandError
		Expect(errors.As(err, &ce)).To(BeTrue())
		Expect(len(ce.Output)).To(BeNumerically("<", 1100))
		Expect(ce.Output).To(HavePrefix("first\nline 0\n"))
		Expect(ce.Output).To(MatchRegexp(`\[\.\.\. \d+ bytes of output cut \.\.\.\]`))
		Expect(ce.Output).To(HaveSuffix("line 1999\nlast\n"))
		Expect(all.String()).To(HavePrefix("== update 7: sh -c"))
		Expect(all.String()).To(MatchRegexp(`\nlast\n== update 7: exit status 1 after [0-9.]+(ms|s)\n$`))
		Expect(all.String()).To(ContainSubstring("line 1000\n"))
	})

	It("fails when the program cannot run, without starting anything", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("no-such-updater-xyz", "{new}", "{target}"), 1)
		Expect(err).To(MatchError(ContainSubstring("not found in $PATH")))
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
	})
})

var _ = Describe("Exec.Prepare", func() {
	It("gives a caller that runs the command itself the argv, the environment, {new} and the check", func() {
		f := newExecFixture()
		e := writers.Exec{Argv: []string{"dd", "if={new}", "of={target}", "conv=notrunc", "status=none"}, Env: []string{"X=1"}}
		p, err := e.Prepare(f.source, f.target, 5)
		Expect(err).NotTo(HaveOccurred())
		newPath := filepath.Join(f.dir, "db.new-5.mmdb")
		Expect(p.New).To(Equal(newPath))
		Expect(p.Argv).To(Equal([]string{"dd", "if=" + newPath, "of=" + f.target, "conv=notrunc", "status=none"}))
		Expect(p.Env).To(ContainElements("X=1", "MAPCHAOS_NEW="+newPath, "MAPCHAOS_TARGET="+f.target, "MAPCHAOS_UPDATE=5"))
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"), "Prepare touches no file")

		Expect(p.Place()).To(Succeed())
		expectContent(newPath, f.b)
		// dd conv=notrunc over a longer file leaves A's tail: exit 0, but
		// not the new version.
		cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
		cmd.Env = p.Env
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		err = p.Finish(true, "dd said nothing")
		var ce *writers.CommandError
		Expect(errors.As(err, &ce)).To(BeTrue(), "%v", err)
		Expect(ce.Status).To(Equal("exit status 0, but it did not install the new version: {target} holds 307200 bytes, the new version 204800"))
		Expect(ce.Update).To(Equal(5))
		Expect(ce.Output).To(Equal("dd said nothing"))
		Expect(ce.Command).To(Equal("dd if={new} of={target} conv=notrunc status=none"))
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"), "Finish removes {new}")
	})

	It("passes an update that installed the new version, and only tidies after a failed one", func() {
		f := newExecFixture()
		p, err := writers.Command("cp", "{new}", "{target}").Prepare(f.source, f.target, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Place()).To(Succeed())
		Expect(p.Finish(false, "")).To(Succeed())
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
		Expect(p.Place()).To(Succeed())
		Expect(exec.Command(p.Argv[0], p.Argv[1:]...).Run()).To(Succeed())
		Expect(p.Finish(true, "")).To(Succeed())
		expectContent(f.target, f.b)
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
	})

	It("refuses a command that cannot run", func() {
		_, err := writers.Command("cp", "{new}", "/tmp/x").Prepare("a", "b", 1)
		Expect(err).To(MatchError(ContainSubstring("has no {target}")))
	})
})

// daemon is an updater script (sh -c daemon sh {new} {target}) that
// installs the new version and leaves sleep secs running in a session of
// its own, as a daemon would. It exits once the daemon has called setsid.
func daemon(secs string) string {
	return `cp "$1" "$2"; setsid sh -c 'touch "$0.ready"; exec sleep ` + secs + `' "$2" >/dev/null 2>&1 &
while [ ! -e "$2.ready" ]; do sleep 0.01; done; rm "$2.ready"`
}
