package reports_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// These specs load the pages in a real browser (headless Chromium) and read
// the rendered DOM back: what a person sees, not what the template meant.
// CI (CI set) must have the Debian package chromium; elsewhere the specs
// are skipped without it (internal/needs).
var _ = Describe("HTML in a real browser", Label("browser"), func() {
	var chromium string

	BeforeEach(func() {
		chromium = needs.Program("chromium", "chromium", "chromium-browser", "google-chrome")
	})

	It("shows report.html's matrix, one cell per combination, even with hostile text in the evidence", func() {
		r := smallReport()
		hostile := `</pre></td></table><script>document.body.innerHTML=""</script><td data-verdict="safe">`
		r.Results[1].Evidence.Trace = hostile
		r.Results[1].Evidence.Detail = hostile
		r.Results = append(r.Results, reports.Entry{
			Result:   results.Result{Writer: `cp"><b>`, Reader: "mmap", Verdict: verdicts.Corrupt},
			Expected: "safe",
		})
		page, err := reports.HTML(r)
		Expect(err).NotTo(HaveOccurred())

		dom := renderInChromium(chromium, page)
		Expect(dom).NotTo(ContainSubstring("<script>"), "no script element may come out of the report's text")
		cells := tableCells(dom, "matrix")
		Expect(cells).To(ConsistOf(
			cell{"cp", "bytes", "degraded"},
			cell{"cp", "mmap", "crash"},
			cell{"rename", "bytes", "safe"},
			cell{"rename", "mmap", "safe"},
			cell{`cp"><b>`, "mmap", "corrupt"},
		))
		By("showing the matrix first, then the environment, then the evidence")
		matrixAt := strings.Index(dom, `<table id="matrix">`)
		envAt := strings.Index(dom, `<section id="environment">`)
		Expect(matrixAt).To(BeNumerically(">", 0))
		Expect(envAt).To(BeNumerically(">", matrixAt))
		Expect(strings.Index(dom, `<section id="evidence">`)).To(BeNumerically(">", envAt))
	})

	It("shows merged.html's rows, with the differing one marked", func() {
		a, b := smallReport(), smallReport()
		b.Run.GOARCH, b.Run.Emulation = "arm64", "qemu-system"
		b.Results[0].Verdict = verdicts.Crash // rename x mmap
		m, err := reports.Merge([]reports.Report{a, b}, nil)
		Expect(err).NotTo(HaveOccurred())
		page, err := m.HTML()
		Expect(err).NotTo(HaveOccurred())

		rows := mergedRows(renderInChromium(chromium, page))
		Expect(rows).To(HaveLen(4))
		Expect(rows).To(ContainElement(mergedRow{Writer: "rename", Reader: "mmap", Differs: "true",
			Verdicts: map[string]string{"amd64": "safe", "arm64/qemu-system": "crash"}}))
		Expect(rows).To(ContainElement(mergedRow{Writer: "cp", Reader: "mmap", Differs: "false",
			Verdicts: map[string]string{"amd64": "crash", "arm64/qemu-system": "crash"}}))
	})
})

// renderInChromium loads page from a file in headless Chromium and returns
// the DOM it built.
func renderInChromium(chromium string, page []byte) string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	file := filepath.Join(dir, "page.html")
	Expect(os.WriteFile(file, page, 0o644)).To(Succeed())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+file)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, GinkgoWriter
	Expect(cmd.Run()).To(Succeed(), "chromium --dump-dom")
	Expect(out.String()).To(ContainSubstring("</html>"), "chromium printed no DOM")
	return out.String()
}

// cell is a matrix cell as the browser built it.
type cell struct{ Writer, Reader, Verdict string }

// element is an open element while walking the DOM.
type element struct {
	name  string
	attrs map[string]string
}

// walk calls fn for every start element of dom with the elements that
// enclose it, outermost first. The DOM is read with encoding/xml in its
// lenient HTML mode, which is enough for Chromium's serialisation.
func walk(dom string, fn func(el element, parents []element)) {
	GinkgoHelper()
	d := xml.NewDecoder(strings.NewReader(dom))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var stack []element
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		Expect(err).NotTo(HaveOccurred(), "reading the DOM back")
		switch t := tok.(type) {
		case xml.StartElement:
			el := element{name: strings.ToLower(t.Name.Local), attrs: map[string]string{}}
			for _, a := range t.Attr {
				el.attrs[a.Name.Local] = a.Value
			}
			fn(el, stack)
			stack = append(stack, el)
		case xml.EndElement:
			name := strings.ToLower(t.Name.Local)
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].name == name {
					stack = stack[:i]
					break
				}
			}
		}
	}
}

// inTable reports whether parents end with table#id > tbody > tr.
func inTable(parents []element, id string) bool {
	n := len(parents)
	return n >= 3 && parents[n-1].name == "tr" && parents[n-2].name == "tbody" &&
		parents[n-3].name == "table" && parents[n-3].attrs["id"] == id
}

// tableCells reads the data-attributed cells of table#id.
func tableCells(dom, id string) []cell {
	GinkgoHelper()
	var cells []cell
	walk(dom, func(el element, parents []element) {
		if el.name == "td" && el.attrs["data-verdict"] != "" {
			Expect(inTable(parents, id)).To(BeTrue(), "a verdict cell outside table#%s: %v", id, el.attrs)
			cells = append(cells, cell{el.attrs["data-writer"], el.attrs["data-reader"], el.attrs["data-verdict"]})
		}
	})
	return cells
}

// mergedRow is a row of merged.html's table as the browser built it.
type mergedRow struct {
	Writer, Reader, Differs string
	Verdicts                map[string]string // by label
}

func mergedRows(dom string) []mergedRow {
	GinkgoHelper()
	var rows []mergedRow
	walk(dom, func(el element, parents []element) {
		n := len(parents)
		switch {
		case el.name == "tr" && el.attrs["data-writer"] != "":
			Expect(n >= 2 && parents[n-1].name == "tbody" && parents[n-2].attrs["id"] == "merged").To(BeTrue(), "a row outside table#merged")
			rows = append(rows, mergedRow{el.attrs["data-writer"], el.attrs["data-reader"], el.attrs["data-differs"], map[string]string{}})
		case el.name == "td" && el.attrs["data-verdict"] != "":
			Expect(inTable(parents, "merged")).To(BeTrue(), "a verdict cell outside table#merged")
			rows[len(rows)-1].Verdicts[el.attrs["data-label"]] = el.attrs["data-verdict"]
		}
	})
	return rows
}
