package writers_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("SplitCommand", func() {
	DescribeTable("splits like a shell and expands nothing",
		func(line string, want []string) {
			got, err := writers.SplitCommand(line)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("blanks separate words", "  cp\t{new}   {target} ", []string{"cp", "{new}", "{target}"}),
		Entry("single quotes keep everything", `sh -c 'cat "$1" > "$2"' sh {new} {target}`,
			[]string{"sh", "-c", `cat "$1" > "$2"`, "sh", "{new}", "{target}"}),
		Entry("double quotes keep blanks, \\\" and \\\\ escape", `printf "a b \"c\" \\ \q" {target}`,
			[]string{"printf", `a b "c" \ \q`, "{target}"}),
		Entry("escaped $ in double quotes", `echo "\$HOME" {target}`, []string{"echo", "$HOME", "{target}"}),
		Entry("a backslash keeps the next character", `my\ updater \$x \| {target}`, []string{"my updater", "$x", "|", "{target}"}),
		Entry("adjacent quoted parts make one word", `a'b'"c"d {target}`, []string{"abcd", "{target}"}),
		Entry("an empty quoted word is a word", `prog '' {target}`, []string{"prog", "", "{target}"}),
		Entry("quoted placeholders are still whole words", `cp '{new}' "{target}"`, []string{"cp", "{new}", "{target}"}),
		Entry("backslash-newline joins lines", "cp \\\n{new} {target}", []string{"cp", "{new}", "{target}"}),
		Entry("~ and globs stay literal", `~/bin/up *.mmdb {target}`, []string{"~/bin/up", "*.mmdb", "{target}"}),
		Entry("an empty line gives no words", "   ", []string(nil)),
	)

	DescribeTable("refuses what a shell would have interpreted, naming it",
		func(line, msg string) {
			_, err := writers.SplitCommand(line)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("unterminated single quote", `sh -c 'cp {new}`, "unterminated single quote at column 7"),
		Entry("unterminated double quote", `cp "{new} {target}`, "unterminated double quote at column 4"),
		Entry("a lone backslash at the end", `cp {new} {target}\`, "ends with a lone backslash"),
		Entry("&&", `cp {new} {target} && sync`, "unquoted && at column 19"),
		Entry("a pipe", `cat {new} | tee {target}`, "unquoted | at column 11"),
		Entry("a redirection", `cat {new} > {target}`, "unquoted > at column 11"),
		Entry("a variable", `$HOME/bin/update {new} {target}`, `unquoted $ at column 1 of "$HOME/bin/update {new} {target}": no shell runs the command, so it would not be expanded`),
		Entry("a variable in double quotes", `update "$X" {target}`, "$ in double quotes"),
		Entry("a command substitution", "update `date` {target}", "unquoted `"),
		Entry("a semicolon", `cp {new} {target}; sync`, "sh -c '...' sh {new} {target}"),
	)
})

var _ = Describe("Exec.Validate", func() {
	DescribeTable("refuses a command that cannot run, saying why",
		func(e writers.Exec, msg string) {
			Expect(e.Validate()).To(MatchError(ContainSubstring(msg)))
		},
		Entry("empty", writers.Command(), "the updater command is empty"),
		Entry("a blank program", writers.Command(" ", "{target}"), "the updater command is empty"),
		Entry("no {target}", writers.Command("cp", "{new}", "/tmp/x"), "has no {target} argument"),
		Entry("a placeholder inside a word", writers.Command("update", "--out={target}", "{new}"),
			`{target} must be a whole argument, but "--out={target}" contains it`),
		Entry("{new} inside a word", writers.Command("update", "{new}.gz", "{target}"), `{new} must be a whole argument`),
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
			argv, err := writers.SplitCommand(line)
			Expect(err).NotTo(HaveOccurred())
			// e.g. the arm64 guest of make test-arm64, whose busybox
			// has no install(1); CI's host must have every tool.
			needs.Program(map[bool]string{true: "dash", false: "coreutils"}[argv[0] == "sh"], argv[0])
			got, err := f.update(ctx, writers.Command(argv...), 3)
			Expect(err).NotTo(HaveOccurred())
			expectContent(f.target, f.b)
			Expect(got[0]).To(Equal("exec " + line))
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
		Expect(err.Error()).To(MatchRegexp(`^updater command sh -c .* failed: exit status 3 \(ran \d+ms\); its output:\n`))
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
		Expect(all.String()).To(MatchRegexp(`\nlast\n== update 7: exit status 1 after \d+ms\n$`))
		Expect(all.String()).To(ContainSubstring("line 1000\n"))
	})

	It("fails when the program cannot run, without starting anything", func(ctx SpecContext) {
		f := newExecFixture()
		_, err := f.update(ctx, writers.Command("no-such-updater-xyz", "{new}", "{target}"), 1)
		Expect(err).To(MatchError(ContainSubstring("not found in $PATH")))
		Expect(names(f.dir)).To(ConsistOf("db.mmdb"))
	})
})
