package reports_test

import (
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// tableRows returns the lines of the first Markdown table after heading.
func tableRows(md, heading string) []string {
	_, after, ok := strings.Cut(md, heading+"\n\n")
	Expect(ok).To(BeTrue(), "no heading %q", heading)
	var rows []string
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		rows = append(rows, line)
	}
	return rows
}

var _ = Describe("Markdown", func() {
	It("has writers as rows and readers as columns, both sorted", func() {
		r := smallReport()
		r.Results = append(r.Results, entry("inplace", "mmap-recover", verdicts.Recovered, "recovered", true))
		Expect(tableRows(reports.Markdown(r), "## Verdicts")).To(Equal([]string{
			`| writer \ reader | bytes | mmap | mmap-recover |`,
			`|---|---|---|---|`,
			`| **cp** | degraded ✗ (expected safe) | crash | — |`,
			`| **inplace** | — | — | recovered |`,
			`| **rename** | safe | safe | — |`,
		}))
	})

	It("shows the running/starting split when the roles disagree", func() {
		md := reports.Markdown(fullReport())
		Expect(md).To(ContainSubstring("| **cp** | crash (running) / degraded (starting) |"))
	})

	It("starts with the verdict matrix, then the environment in one paragraph, then the evidence", func() {
		md := reports.Markdown(fullReport())
		lines := strings.Split(md, "\n")
		Expect(lines[0]).To(Equal("# mapchaos report"))
		Expect(lines[2]).To(Equal("## Verdicts"))
		env := slices.Index(lines, "## Environment")
		Expect(env).To(BeNumerically(">", slices.Index(lines, "### Legend")))
		Expect(lines[env+1]).To(BeEmpty())
		for _, s := range []string{"linux/amd64", "emulation none", "kernel 6.1.0-18-amd64", "page size 4096",
			"fs ext4", "go1.26.8", "seed 42", "mode race (requested step)", "duration 1m1.5s"} {
			Expect(lines[env+2]).To(ContainSubstring(s))
		}
		first := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "## ") && strings.Contains(l, " × ") })
		Expect(first).To(BeNumerically(">", env), "the evidence comes after the environment")
	})

	It("has the legend of the six words", func() {
		rows := tableRows(reports.Markdown(smallReport()), "### Legend")
		Expect(rows).To(HaveLen(2 + len(verdicts.All)))
		for i, v := range verdicts.All {
			Expect(rows[2+i]).To(HavePrefix("| `" + v.String() + "` | "))
		}
	})

	It("gives each combination that was not safe a section, most severe first", func() {
		r := smallReport()
		r.Results = append(r.Results, entry("inplace", "mmap", verdicts.Corrupt, "corrupt", true))
		md := reports.Markdown(r)
		var heads []string
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "## ") {
				heads = append(heads, line)
			}
		}
		Expect(heads).To(Equal([]string{
			"## Verdicts",
			"## Environment",
			"## cp × mmap: crash",
			"## inplace × mmap: corrupt",
			"## cp × bytes: degraded ✗ (expected safe)",
		}))
	})

	It("lists the evidence and puts trace and repro in fenced blocks", func() {
		md := reports.Markdown(fullReport())
		for _, s := range []string{
			"- signal: `SIGBUS (7)`",
			"- code: `BUS_ADRERR`",
			"- addr: `0x7f3a2c001000`",
			"- exit status: `exit 2`",
			"- fatal: `fatal error: fault`",
			"- writer step: `openat(O_WRONLY|O_TRUNC)`",
			"- last lookups: `10.0.0.1, 10.0.1.7`",
			"- detail: reader died during lookup",
			"trace:\n\n```text\nunexpected fault address 0x7f3a2c001000\n",
			"repro:\n\n```sh\nmapchaos matrix --writers cp --readers mmap --seed 42\n```\n",
		} {
			Expect(md).To(ContainSubstring(s))
		}
	})

	It("keeps hostile text inside its code block", func() {
		r := fullReport()
		r.Results[0].Evidence.Trace = "```\n# not a heading\n````"
		r.Results[0].Evidence.Code = "`BUS`"
		md := reports.Markdown(r)
		Expect(md).To(ContainSubstring("trace:\n\n`````text\n```\n# not a heading\n````\n`````\n"))
		Expect(md).To(ContainSubstring("- code: `` `BUS` ``"))
	})

	It("says when every expectation held", func() {
		r := smallReport()
		r.Results[3].Met = true
		Expect(reports.Markdown(r)).To(ContainSubstring("All 4 expectations met."))
	})
})
