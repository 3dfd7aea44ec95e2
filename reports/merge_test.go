package reports_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// armReport is smallReport run under full-system emulation, where
// rename x mmap crashed and cp x bytes was not run.
func armReport() reports.Report {
	r := smallReport()
	r.Run.GOARCH = "arm64"
	r.Run.Emulation = "qemu-system"
	r.Run.PageSize = 65536
	r.Results = []reports.Entry{
		entry("rename", "mmap", verdicts.Crash, "safe", false),
		entry("cp", "mmap", verdicts.Crash, "crash", true),
		entry("rename", "bytes", verdicts.Safe, "safe", true),
	}
	return r
}

var _ = Describe("Merge", func() {
	It("lines up the runs and marks the rows that differ", func() {
		m, err := reports.Merge([]reports.Report{smallReport(), armReport()}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Labels).To(Equal([]string{"amd64", "arm64/qemu-system"}))
		Expect(m.Runs).To(HaveLen(2))

		var got []string
		for _, row := range m.Rows {
			s := row.Writer + "×" + row.Reader + ":"
			for _, c := range row.Cells {
				if c == nil {
					s += " -"
				} else {
					s += " " + c.Verdict.String()
				}
			}
			if row.Differs {
				s += " differs"
			}
			got = append(got, s)
		}
		Expect(got).To(Equal([]string{
			"cp×bytes: degraded -",
			"cp×mmap: crash crash",
			"rename×bytes: safe safe",
			"rename×mmap: safe crash differs",
		}))
	})

	It("renders Markdown with a column per label", func() {
		m, err := reports.Merge([]reports.Report{smallReport(), armReport()}, []string{"x86", ""})
		Expect(err).NotTo(HaveOccurred())
		md := m.Markdown()
		Expect(tableRows(md, "1 of 4 combinations differ.")).To(Equal([]string{
			"| writer | reader | x86 | arm64/qemu-system | differs |",
			"|---|---|---|---|---|",
			"| cp | bytes | degraded ✗ (expected safe) | — |  |",
			"| cp | mmap | crash | crash |  |",
			"| rename | bytes | safe | safe |  |",
			"| rename | mmap | safe | crash ✗ (expected safe) | ≠ |",
		}))
		Expect(md).To(ContainSubstring("| page size | 4096 | 65536 |"))
	})

	It("renders one self-contained HTML page with a column group per label", func() {
		m, err := reports.Merge([]reports.Report{smallReport(), armReport()}, nil)
		Expect(err).NotTo(HaveOccurred())
		data, err := m.HTML()
		Expect(err).NotTo(HaveOccurred())
		page := string(data)
		Expect(page).To(ContainSubstring(`<table id="merged">`))
		Expect(strings.Count(page, `<colgroup span="1" title=`)).To(Equal(2))
		Expect(page).To(ContainSubstring(`<tr class="differs" data-writer="rename" data-reader="mmap" data-differs="true">`))
		Expect(strings.Count(page, `data-differs="true"`)).To(Equal(1))
		Expect(page).To(ContainSubstring(`<td class="missing" data-label="arm64/qemu-system">—</td>`))
		Expect(page).To(ContainSubstring(`data-label="arm64/qemu-system" data-verdict="crash"`))
		Expect(page).NotTo(MatchRegexp(`(?i)https?:|<script`))
	})

	It("tells runs with the same default label apart", func() {
		m, err := reports.Merge([]reports.Report{smallReport(), smallReport(), armReport()}, []string{"", "", "arm"})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Labels).To(Equal([]string{"amd64", "amd64 #2", "arm"}))
		for _, row := range m.Rows {
			Expect(row.Cells).To(HaveLen(3))
		}
	})

	DescribeTable("refuses what it cannot line up",
		func(rs []reports.Report, labels []string, want string) {
			_, err := reports.Merge(rs, labels)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no reports", nil, nil, "no reports"),
		Entry("too few labels", []reports.Report{smallReport(), armReport()}, []string{"a"}, "1 labels for 2 reports"),
		Entry("a label given twice", []reports.Report{smallReport(), armReport()}, []string{"a", "a"}, `label "a" given for reports 1 and 2`),
		Entry("another schema", []reports.Report{{Schema: "x/v1"}}, nil, `schema "x/v1"`),
	)

	It("writes merged.md and merged.html", func() {
		m, err := reports.Merge([]reports.Report{smallReport(), armReport()}, nil)
		Expect(err).NotTo(HaveOccurred())
		dir := filepath.Join(GinkgoT().TempDir(), "merged")
		Expect(reports.WriteMerged(dir, m)).To(Succeed())
		Expect(names(dir)).To(ConsistOf(reports.MergedMarkdownFile, reports.MergedHTMLFile))
		md, err := os.ReadFile(filepath.Join(dir, reports.MergedMarkdownFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(Equal(m.Markdown()))
	})
})
