package reports_test

import (
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
)

func render(r reports.Report) string {
	page, err := reports.HTML(r)
	Expect(err).NotTo(HaveOccurred())
	return string(page)
}

var cellRE = regexp.MustCompile(`<td class="([^"]*)" data-writer="([^"]*)" data-reader="([^"]*)" data-verdict="([^"]*)">(.*?)</td>`)

var _ = Describe("HTML", func() {
	It("has the matrix with a data-attributed cell per combination", func() {
		page := render(smallReport())
		Expect(page).To(HavePrefix("<!DOCTYPE html>"))
		Expect(page).To(ContainSubstring(`<table id="matrix">`))

		cells := map[string]string{}
		for _, m := range cellRE.FindAllStringSubmatch(page, -1) {
			cells[m[2]+"×"+m[3]] = m[4]
			Expect(m[1]).To(ContainSubstring("v-" + m[4]))
		}
		Expect(cells).To(Equal(map[string]string{
			"cp×bytes": "degraded", "cp×mmap": "crash",
			"rename×bytes": "safe", "rename×mmap": "safe",
		}))
	})

	It("links a cell that was not safe to its evidence, and marks unmet expectations", func() {
		page := render(smallReport())
		Expect(page).To(MatchRegexp(`<td class="v v-degraded unmet" data-writer="cp" data-reader="bytes" data-verdict="degraded"><a href="#ev-cp--bytes">degraded</a> <span class="mark" title="expected safe, observed degraded">✗ \(expected safe\)</span></td>`))
		Expect(page).To(ContainSubstring(`<details class="evidence v-degraded" id="ev-cp--bytes" open>`))
		Expect(page).To(ContainSubstring(`<details class="evidence v-crash" id="ev-cp--mmap" open>`))
		Expect(page).NotTo(ContainSubstring(`id="ev-rename`))
		Expect(strings.Index(page, `id="ev-cp--mmap"`)).To(BeNumerically("<", strings.Index(page, `id="ev-cp--bytes"`)),
			"most severe first")
	})

	It("in step mode, gives a safe combination its sequence of states too", func() {
		r := smallReport()
		r.Run.Mode = "step"
		for i := range r.Results {
			if r.Results[i].Writer == "rename" && r.Results[i].Reader == "mmap" {
				r.Results[i].Step = &results.StepTrace{Updates: []results.StepUpdate{{
					Update: "A->B", Exit: "exit 0", Calls: 2,
					States: []results.StepState{{N: 2, Call: "rename(db.mmdb.tmp, db.mmdb)",
						Running: "old version, whole", Starting: "new version, whole"}},
				}}}
			}
		}
		page := render(r)
		Expect(page).To(ContainSubstring(`data-writer="rename" data-reader="mmap" data-verdict="safe"><a href="#ev-rename--mmap">safe</a>`))
		Expect(page).To(ContainSubstring(`<details class="evidence v-safe" id="ev-rename--mmap" open>`))
		Expect(page).To(ContainSubstring("#2 rename(db.mmdb.tmp, db.mmdb) -&gt; running: old version, whole (safe); starting: new version, whole (safe)"))
		Expect(page).NotTo(ContainSubstring(`id="ev-rename--bytes"`), "a safe race-mode entry has no sequence to show")
		Expect(reports.Markdown(r)).NotTo(ContainSubstring("## rename × mmap"), "report.md shows step sequences as tables of their own")
	})

	It("shows a missing combination as —", func() {
		r := smallReport()
		r.Results = r.Results[1:]
		Expect(render(r)).To(ContainSubstring(`<td class="missing" data-writer="rename" data-reader="mmap">—</td>`))
	})

	It("escapes everything that came from the run", func() {
		r := fullReport()
		ev := r.Results[0].Evidence
		ev.Trace = "<script>alert('trace')</script>"
		ev.Stderr = "</pre><img src=x onerror=alert(1)>"
		ev.Detail = `"><script>alert(2)</script>`
		r.Results[0].Writer = "<b>w</b>"
		r.Run.Warnings = []string{"<iframe>"}
		page := render(r)
		Expect(strings.ToLower(page)).NotTo(ContainSubstring("<script"))
		Expect(page).NotTo(ContainSubstring("<img"))
		Expect(page).NotTo(ContainSubstring("<iframe"))
		Expect(page).NotTo(ContainSubstring("<b>"))
		Expect(page).To(ContainSubstring("&lt;script&gt;alert(&#39;trace&#39;)&lt;/script&gt;"))
		Expect(page).To(ContainSubstring(`data-writer="&lt;b&gt;w&lt;/b&gt;"`))
	})

	It("is self-contained", func() {
		page := render(fullReport())
		Expect(page).NotTo(MatchRegexp(`(?i)https?:`))
		Expect(page).NotTo(MatchRegexp(`(?i)<(script|link|img|iframe)\b`))
		Expect(page).NotTo(MatchRegexp(`(?i)\b(src|srcset)=`))
		Expect(page).NotTo(ContainSubstring("url("))
		Expect(page).To(ContainSubstring("<style>"))
	})

	It("shows the verdicts first, then the environment, then the evidence", func() {
		page := render(fullReport())
		verdicts := strings.Index(page, `<section id="verdicts">`)
		env := strings.Index(page, `<section id="environment">`)
		evidence := strings.Index(page, `<section id="evidence">`)
		Expect(verdicts).To(BeNumerically(">", 0))
		Expect(env).To(BeNumerically(">", verdicts))
		Expect(evidence).To(BeNumerically(">", env))
	})

	It("shows the environment and the legend", func() {
		page := render(fullReport())
		for _, s := range []string{"6.1.0-18-amd64", "ext4", "go1.26.8", "16 MiB, shrink", "ptrace not permitted", "v1.13.1"} {
			Expect(page).To(ContainSubstring(s))
		}
		for _, w := range []string{"safe", "degraded", "recovered", "stuck", "corrupt", "crash"} {
			Expect(page).To(ContainSubstring(`<td class="v v-` + w + `"><code>` + w + `</code></td>`))
		}
	})
})
