package shell_test

import (
	"os/exec"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/shell"
)

var _ = Describe("Split", func() {
	DescribeTable("splits like a shell and expands nothing",
		func(line string, want []string) {
			got, err := shell.Split(line)
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
		Entry("quoted placeholders are words like any other", `cp '{new}' "{target}"`, []string{"cp", "{new}", "{target}"}),
		Entry("placeholders inside words stay as written", `dd if={new} of={target} conv=notrunc`,
			[]string{"dd", "if={new}", "of={target}", "conv=notrunc"}),
		Entry("backslash-newline joins lines", "cp \\\n{new} {target}", []string{"cp", "{new}", "{target}"}),
		Entry("~ and globs stay literal", `~/bin/up *.mmdb {target}`, []string{"~/bin/up", "*.mmdb", "{target}"}),
		Entry("a $ that a shell keeps too", `grep -e x$ -e "a $ b" {target}`, []string{"grep", "-e", "x$", "-e", "a $ b", "{target}"}),
		Entry("an empty line gives no words", "   ", []string(nil)),
		Entry("$ in double quotes in the script of sh -c", `sh -c "dd if=$1 of=$2 conv=notrunc" sh {new} {target}`,
			[]string{"sh", "-c", "dd if=$1 of=$2 conv=notrunc", "sh", "{new}", "{target}"}),
		Entry("the script of bash -ec, after more options", "/bin/bash -e -uc \"cp \\\"$1\\\" \\\"$2\\\"; echo `date`\" bash {new} {target}",
			[]string{"/bin/bash", "-e", "-uc", "cp \"$1\" \"$2\"; echo `date`", "bash", "{new}", "{target}"}),
		Entry("a shell behind env", `env -i sh -c "cp $1 $2" sh {new} {target}`,
			[]string{"env", "-i", "sh", "-c", "cp $1 $2", "sh", "{new}", "{target}"}),
	)

	DescribeTable("refuses what cannot work without a shell, in terms of the command",
		func(line, msg string) {
			_, err := shell.Split(line)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("unterminated single quote", `sh -c 'cp {new}`, "unterminated single quote at column 7"),
		Entry("unterminated double quote", `cp "{new} {target}`, "unterminated double quote at column 4"),
		Entry("a lone backslash at the end", `cp {new} {target}\`, "ends with a lone backslash"),
		Entry("&&", `cp {new} {target} && sync`, `unquoted && at column 19 of "cp {new} {target} && sync" would reach cp as an argument: no shell runs the command`),
		Entry("a pipe", `cat {new} | tee {target}`, "unquoted | at column 11"),
		Entry("a redirection", `cat {new} > {target}`, "unquoted > at column 11"),
		Entry("a semicolon", `cp {new} {target}; sync`, "sh -c '...' sh {new} {target}"),
		Entry("a variable as an argument", `cp $NEW {target}`,
			`$NEW (column 4 of "cp $NEW {target}") would reach cp as the four characters $NEW: no shell runs the command, so nothing expands it; run it through a shell, e.g. sh -c '...' sh {new} {target}`),
		Entry("a variable in the program's name", `$HOME/bin/update {new} {target}`,
			"$HOME (column 1 of \"$HOME/bin/update {new} {target}\") would be part of the program's name, as the five characters $HOME"),
		Entry("a variable in double quotes", `update "$X" {target}`, "$X (column 9 of"),
		Entry("${...}", `update ${DB:-x} {target}`, "${DB:-x} (column 8"),
		Entry("a command substitution", "update `date` {target}", "`date` (column 8"),
		Entry("$(...)", `update --at=$(date +%s) {target}`, "$(date +%s) (column 13"),
		Entry("a variable after the script of sh -c", `sh -c 'cp "$1" "$2"' sh "$NEW" {target}`, "$NEW (column 26"),
		Entry("a variable in a word that is not a script", `sh "$HOME/up.sh" {target}`, "$HOME (column 5"),
		Entry("-c of a program that is not a shell", `python3 -c "$X" {target}`, "would reach python3 as the two characters $X"),
	)
})

var _ = Describe("Quote and Join", func() {
	DescribeTable("quote a word only when a shell needs it",
		func(in, want string) { Expect(shell.Quote(in)).To(Equal(want)) },
		Entry("a plain word", "db.new-3.mmdb", "db.new-3.mmdb"),
		Entry("placeholders", "of={target}", "of={target}"),
		Entry("empty", "", "''"),
		Entry("a blank", "a b", "'a b'"),
		Entry("a single quote", "it's", `'it'\''s'`),
		Entry("a $", "$1", "'$1'"),
		Entry("a tilde", "~/x", "'~/x'"),
	)

	It("joins words that a real shell splits back into the same words", func() {
		argv := []string{"printf", "%s|", "a b", "", "it's", `"$HOME"`, "`date`", "x*y", "~", "a\nb", `back\slash`}
		out, err := exec.Command("sh", "-c", shell.Join(argv)).Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(Equal("a b||it's|\"$HOME\"|`date`|x*y|~|a\nb|back\\slash|"))
	})

	It("splits what it joins back into the same words", func() {
		argv := []string{"cp", "a b", "", "it's", "{new}", "--x=\"y\""}
		got, err := shell.Split(shell.Join(argv))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(argv))
	})
})
