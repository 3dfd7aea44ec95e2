package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"
)

// HTML renders r as one self-contained page: inline CSS, no scripts, no
// external assets. It shows the verdict matrix first (a table with id
// "matrix" whose cells carry data-writer, data-reader and data-verdict
// attributes and are coloured by severity) and the legend, then the
// environment, then a <details> section of evidence for every combination
// that was not safe (and, in step mode, for every combination: its sequence
// of states), which its matrix cell links to. Every value from the run is
// escaped.
func HTML(r Report) ([]byte, error) {
	m := newMatrix(r.Results)
	page := htmlPage{
		Title:    fmt.Sprintf("mapchaos report: %s, seed %d", platformText(r.Run), r.Run.Seed),
		Env:      envFacts(r.Run),
		Modules:  moduleFacts(r.Run.Modules),
		Warnings: r.Run.Warnings,
		Readers:  m.readers,
		Legend:   legend(),
		Total:    len(m.cells),
	}
	secs := m.sections(true)
	ids := anchors(secs)
	for _, e := range secs {
		page.Sections = append(page.Sections, htmlSection{
			ID:       ids[combo{e.Writer, e.Reader}],
			Cell:     newHTMLCell(e, ""),
			evidence: htmlEvidence(e),
			States:   htmlStates(e.PowerLoss),
		})
	}
	for _, w := range m.writers {
		row := htmlRow{Writer: w}
		for _, rd := range m.readers {
			c := htmlCell{Writer: w, Reader: rd, Missing: true}
			if e, ok := m.at(w, rd); ok {
				c = newHTMLCell(e, ids[combo{w, rd}])
			}
			row.Cells = append(row.Cells, c)
		}
		page.Rows = append(page.Rows, row)
	}
	for _, e := range m.failures() {
		page.Unmet = append(page.Unmet, newHTMLCell(e, ids[combo{e.Writer, e.Reader}]))
	}
	var b bytes.Buffer
	if err := reportTemplate().Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return b.Bytes(), nil
}

// htmlPage is what the report template shows.
type htmlPage struct {
	Title    string
	Env      []fact
	Modules  []fact
	Warnings []string
	Readers  []string
	Rows     []htmlRow
	Unmet    []htmlCell
	Total    int
	Legend   []legendItem
	Sections []htmlSection
}

type htmlRow struct {
	Writer string
	Cells  []htmlCell
}

// htmlCell is one combination as a matrix cell shows it.
type htmlCell struct {
	Writer, Reader string
	Missing        bool
	// Verdict is the verdict word; it also names the CSS class.
	Verdict string
	// Text is the verdict, or the running/starting split.
	Text string
	// Unmet is the ✗ marker of a failed expectation, "" when met.
	Unmet string
	// Observed says what was expected and what was seen.
	Observed string
	// Anchor is the id of the evidence section, "" when there is none.
	Anchor string
}

func newHTMLCell(e Entry, anchor string) htmlCell {
	return htmlCell{
		Writer:   e.Writer,
		Reader:   e.Reader,
		Verdict:  e.Verdict.String(),
		Text:     verdictText(e),
		Unmet:    unmetText(e),
		Observed: observedText(e),
		Anchor:   anchor,
	}
}

// htmlSection is the evidence of one combination.
type htmlSection struct {
	ID   string
	Cell htmlCell
	evidence
	// States are power-loss mode's crash states, each one to open.
	States []htmlState
}

// anchors gives each entry a unique, readable element id:
// "ev-cp--mmap-recover".
func anchors(es []Entry) map[combo]string {
	ids := make(map[combo]string, len(es))
	used := make(map[string]bool, len(es))
	for _, e := range es {
		base := "ev-" + slug(e.Writer) + "--" + slug(e.Reader)
		id := base
		for n := 2; used[id]; n++ {
			id = base + "-" + strconv.Itoa(n)
		}
		used[id] = true
		ids[combo{e.Writer, e.Reader}] = id
	}
	return ids
}

// slug keeps the letters, digits and dashes of s, in lower case, and
// turns everything else into dashes.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

// platformText is "linux/amd64", with the emulation when there is one.
func platformText(run Run) string {
	s := run.GOOS + "/" + run.GOARCH
	if run.Emulation != "" && run.Emulation != "none" {
		s += " (" + run.Emulation + ")"
	}
	return s
}

// pageStyle is the CSS of every page. Each verdict class sets --sev, its
// colour, from green (safe) to dark red (crash); cells fill with it and
// evidence sections are edged with it.
const pageStyle = `<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1b1b1b; max-width: 80em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; }
code, pre { font: 12.5px/1.4 ui-monospace, monospace; }
pre { background: #f4f4f4; padding: .6em .8em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #bbb; padding: .35em .6em; text-align: left; vertical-align: top; }
thead th { background: #eee; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.v-safe { --sev: #c8e6c9; }
.v-degraded { --sev: #fff59d; }
.v-recovered { --sev: #ffcc80; }
.v-stuck { --sev: #ffab91; }
.v-corrupt { --sev: #e57373; }
.v-crash { --sev: #8b0000; --ink: #fff; }
td.v { background: var(--sev); color: var(--ink, inherit); }
td.v a { color: inherit; }
td.missing { color: #888; text-align: center; }
td.unmet { outline: 3px solid #000; outline-offset: -3px; font-weight: 700; }
tr.differs th { text-decoration: underline wavy #b00020; }
.mark { font-weight: 700; }
details.evidence { border: 1px solid #bbb; border-left: .6em solid var(--sev); margin: 1em 0; padding: .4em .8em; }
details.evidence:target { box-shadow: 0 0 0 3px #1565c0; }
details.evidence > summary { cursor: pointer; font-weight: 600; font-size: 1.1em; }
</style>`

// cellTemplates render a verdict cell's contents, a list of facts and the
// legend; the report and the merged page both use them.
const cellTemplates = `
{{- define "cell"}}{{if .Anchor}}<a href="#{{.Anchor}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{if .Unmet}} <span class="mark" title="{{.Observed}}">{{.Unmet}}</span>{{end}}{{end}}
{{- define "facts"}}<dl class="facts">{{range .}}<dt>{{.Label}}</dt><dd>{{if .Code}}<code>{{.Value}}</code>{{else}}{{.Value}}{{end}}</dd>{{end}}</dl>{{end}}
{{- define "legend"}}<h2>Legend</h2>
<table class="legend"><tbody>
{{range .}}<tr><td class="v v-{{.Verdict}}"><code>{{.Verdict}}</code></td><td>{{.Meaning}}</td></tr>
{{end}}</tbody></table>{{end -}}
`

// reportTemplate is parsed on first use: every mapchaos process (each reader
// child too) would otherwise parse it at start-up.
var reportTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(cellTemplates + `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
` + pageStyle + `
</head>
<body>
<h1>{{.Title}}</h1>
<section id="verdicts">
<h2>Verdicts</h2>
{{if .Rows}}<table id="matrix">
<thead><tr><th scope="col">writer \ reader</th>{{range .Readers}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><th scope="row">{{.Writer}}</th>{{range .Cells}}{{if .Missing}}<td class="missing" data-writer="{{.Writer}}" data-reader="{{.Reader}}">—</td>{{else}}<td class="v v-{{.Verdict}}{{if .Unmet}} unmet{{end}}" data-writer="{{.Writer}}" data-reader="{{.Reader}}" data-verdict="{{.Verdict}}">{{template "cell" .}}</td>{{end}}{{end}}</tr>
{{end}}</tbody>
</table>
{{if .Unmet}}<p><strong>{{len .Unmet}} of {{.Total}} expectations not met:</strong></p>
<ul class="unmet-list">{{range .Unmet}}<li>{{if .Anchor}}<a href="#{{.Anchor}}">{{.Writer}} × {{.Reader}}</a>{{else}}{{.Writer}} × {{.Reader}}{{end}}: {{.Observed}}</li>{{end}}</ul>
{{else}}<p>All {{.Total}} expectations met.</p>{{end}}
{{else}}<p>No combinations were run.</p>{{end}}
{{template "legend" .Legend}}
</section>
<section id="environment">
<h2>Environment</h2>
{{template "facts" .Env}}
{{with .Modules}}<h3>Modules</h3>
{{template "facts" .}}{{end}}
{{with .Warnings}}<h3>Warnings</h3>
<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>
{{with .Sections}}<section id="evidence">
<h2>Evidence</h2>
{{range .}}<details class="evidence v-{{.Cell.Verdict}}" id="{{.ID}}" open>
<summary>{{.Cell.Writer}} × {{.Cell.Reader}}: {{.Cell.Text}}{{if .Cell.Unmet}} {{.Cell.Unmet}}{{end}}</summary>
{{template "facts" .Facts}}
{{range .Blocks}}<h4>{{.Label}}</h4>
<pre>{{.Text}}</pre>
{{end}}{{with .States}}<h4>crash states</h4>
{{range .}}<details class="state v-{{.Verdict}}"><summary>{{.Summary}}</summary>
{{template "facts" .Facts}}</details>
{{end}}{{end}}</details>
{{end}}</section>{{end}}
</body>
</html>
`))
})
