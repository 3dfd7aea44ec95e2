package reports

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"
)

// Merged puts the results of several runs side by side, for instance the
// same matrix on amd64 and on arm64 under emulation.
type Merged struct {
	// Labels name the runs, one per report given to Merge, in that order.
	Labels []string
	// Runs are the environments of the runs, parallel to Labels.
	Runs []Run
	// Rows hold every combination that any run had, sorted by writer,
	// then reader.
	Rows []MergedRow
}

// MergedRow is one combination across the runs.
type MergedRow struct {
	Writer, Reader string
	// Cells holds the combination's entry in each run, parallel to
	// Merged.Labels; nil where a run did not have the combination.
	Cells []*Entry
	// Differs is true when the runs that had the combination disagree on
	// its verdict.
	Differs bool
}

// Merge lines up reports. labels name the reports, in order; nil or an
// empty label means DefaultLabel. Two reports with the same default label
// are told apart by a suffix ("amd64 #2"); the same label given twice is
// an error. Should a report hold a combination twice, its more severe
// entry is used.
func Merge(rs []Report, labels []string) (Merged, error) {
	if len(rs) == 0 {
		return Merged{}, errors.New("merge: no reports")
	}
	if labels != nil && len(labels) != len(rs) {
		return Merged{}, fmt.Errorf("merge: %d labels for %d reports", len(labels), len(rs))
	}
	names, err := mergeLabels(rs, labels)
	if err != nil {
		return Merged{}, err
	}
	out := Merged{Labels: names}
	matrices := make([]matrix, len(rs))
	var writers, readers []string
	for i, r := range rs {
		if r.Schema != "" && r.Schema != Schema {
			return Merged{}, fmt.Errorf("merge: report %q has schema %q, want %q", names[i], r.Schema, Schema)
		}
		out.Runs = append(out.Runs, r.Run)
		matrices[i] = newMatrix(r.Results)
		writers = append(writers, matrices[i].writers...)
		readers = append(readers, matrices[i].readers...)
	}
	readers = sortedUnique(readers)
	for _, w := range sortedUnique(writers) {
		for _, rd := range readers {
			row := MergedRow{Writer: w, Reader: rd, Cells: make([]*Entry, len(rs))}
			var seen []Entry
			for i, m := range matrices {
				if e, ok := m.at(w, rd); ok {
					row.Cells[i] = &e
					seen = append(seen, e)
				}
			}
			if len(seen) == 0 {
				continue
			}
			for _, e := range seen[1:] {
				row.Differs = row.Differs || e.Verdict != seen[0].Verdict
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// mergeLabels returns a unique label for each report.
func mergeLabels(rs []Report, labels []string) ([]string, error) {
	names := make([]string, len(rs))
	given := map[string]int{}
	for i := range rs {
		if i < len(labels) && labels[i] != "" {
			if j, dup := given[labels[i]]; dup {
				return nil, fmt.Errorf("merge: label %q given for reports %d and %d", labels[i], j+1, i+1)
			}
			given[labels[i]] = i
			names[i] = labels[i]
		}
	}
	used := map[string]bool{}
	for _, n := range names {
		used[n] = n != ""
	}
	for i, r := range rs {
		if names[i] != "" {
			continue
		}
		base := DefaultLabel(r.Run)
		name := base
		for n := 2; used[name]; n++ {
			name = base + " #" + strconv.Itoa(n)
		}
		used[name] = true
		names[i] = name
	}
	return names, nil
}

// DefaultLabel names a run by its architecture: "amd64", or
// "arm64/qemu-system" when it ran under emulation.
func DefaultLabel(run Run) string {
	if run.Emulation != "" && run.Emulation != "none" {
		return run.GOARCH + "/" + run.Emulation
	}
	return run.GOARCH
}

// differing counts the rows whose verdicts differ.
func (m Merged) differing() int {
	n := 0
	for _, r := range m.Rows {
		if r.Differs {
			n++
		}
	}
	return n
}

// envRows lines up the environment facts of the runs: one row per fact,
// one value per run ("" where a run lacks it), in order of first
// appearance.
func (m Merged) envRows() []mergedEnvRow {
	var rows []mergedEnvRow
	index := map[string]int{}
	for i, run := range m.Runs {
		for _, f := range envFacts(run) {
			j, ok := index[f.Label]
			if !ok {
				j = len(rows)
				index[f.Label] = j
				rows = append(rows, mergedEnvRow{Label: f.Label, Values: make([]string, len(m.Runs))})
			}
			rows[j].Values[i] = f.Value
		}
	}
	return rows
}

type mergedEnvRow struct {
	Label  string
	Values []string
}

// Markdown renders the runs side by side: a table of their environments,
// then one table row per combination with a column per label, "—" where a
// run lacked the combination and ≠ on rows whose verdicts differ.
func (m Merged) Markdown() string {
	var b strings.Builder
	b.WriteString("# mapchaos reports side by side\n\n")
	header := func(first ...string) {
		b.WriteString("|")
		for _, h := range first {
			fmt.Fprintf(&b, " %s |", h)
		}
		for _, l := range m.Labels {
			fmt.Fprintf(&b, " %s |", mdText(l))
		}
	}
	header("")
	b.WriteString("\n|---|" + strings.Repeat("---|", len(m.Labels)) + "\n")
	for _, row := range m.envRows() {
		fmt.Fprintf(&b, "| %s |", mdText(row.Label))
		for _, v := range row.Values {
			if v == "" {
				v = missing
			} else {
				v = mdText(v)
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Verdicts\n\n")
	fmt.Fprintf(&b, "%d of %d combinations differ.\n\n", m.differing(), len(m.Rows))
	header("writer", "reader")
	b.WriteString(" differs |\n|---|---|" + strings.Repeat("---|", len(m.Labels)) + "---|\n")
	for _, row := range m.Rows {
		fmt.Fprintf(&b, "| %s | %s |", mdText(row.Writer), mdText(row.Reader))
		for _, e := range row.Cells {
			text := missing
			if e != nil {
				text = mdText(cellText(*e))
			}
			fmt.Fprintf(&b, " %s |", text)
		}
		if row.Differs {
			b.WriteString(" ≠ |\n")
		} else {
			b.WriteString("  |\n")
		}
	}
	b.WriteString("\n### Legend\n\n| word | meaning |\n|---|---|\n")
	for _, l := range legend() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", l.Verdict, mdText(l.Meaning))
	}
	return b.String()
}

// HTML renders the runs side by side as one self-contained page: the
// environments, and a table (id "merged") with a column group per label,
// whose rows carry data-writer, data-reader and data-differs and whose
// cells carry data-label and data-verdict. Rows whose verdicts differ are
// marked.
func (m Merged) HTML() ([]byte, error) {
	page := mergedPage{
		Labels:    m.Labels,
		Env:       m.envRows(),
		Differing: m.differing(),
		Total:     len(m.Rows),
		Legend:    legend(),
	}
	for _, row := range m.Rows {
		pr := mergedPageRow{Writer: row.Writer, Reader: row.Reader, Differs: row.Differs}
		for i, e := range row.Cells {
			c := mergedPageCell{Label: m.Labels[i], htmlCell: htmlCell{Writer: row.Writer, Reader: row.Reader, Missing: true}}
			if e != nil {
				c.htmlCell = newHTMLCell(*e, "")
			}
			pr.Cells = append(pr.Cells, c)
		}
		page.Rows = append(page.Rows, pr)
	}
	var b bytes.Buffer
	if err := mergedTemplate().Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render merged html: %w", err)
	}
	return b.Bytes(), nil
}

// WriteMerged writes m as merged.md and merged.html into dir, creating dir
// if needed, each file atomically.
func WriteMerged(dir string, m Merged) error {
	page, err := m.HTML()
	if err != nil {
		return fmt.Errorf("render %s: %w", MergedHTMLFile, err)
	}
	return writeFiles(dir, []file{
		{MergedMarkdownFile, []byte(m.Markdown())},
		{MergedHTMLFile, page},
	})
}

// The names of the files WriteMerged writes.
const (
	MergedMarkdownFile = "merged.md"
	MergedHTMLFile     = "merged.html"
)

type mergedPage struct {
	Labels           []string
	Env              []mergedEnvRow
	Rows             []mergedPageRow
	Differing, Total int
	Legend           []legendItem
}

type mergedPageRow struct {
	Writer, Reader string
	Differs        bool
	Cells          []mergedPageCell
}

type mergedPageCell struct {
	Label string
	htmlCell
}

// mergedTemplate is parsed on first use: every mapchaos process (each reader
// child too) would otherwise parse it at start-up.
var mergedTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("merged").Parse(cellTemplates + `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mapchaos reports side by side</title>
` + pageStyle + `
</head>
<body>
<h1>mapchaos reports side by side</h1>
<section id="environment">
<h2>Environments</h2>
<table>
<thead><tr><th></th>{{range .Labels}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Env}}<tr><th scope="row">{{.Label}}</th>{{range .Values}}<td>{{if .}}<code>{{.}}</code>{{else}}—{{end}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
</section>
<section id="verdicts">
<h2>Verdicts</h2>
<p>{{.Differing}} of {{.Total}} combinations differ.</p>
<table id="merged">
<colgroup span="2"></colgroup>
{{range .Labels}}<colgroup span="1" title="{{.}}"></colgroup>
{{end}}<colgroup span="1"></colgroup>
<thead><tr><th scope="col">writer</th><th scope="col">reader</th>{{range .Labels}}<th scope="colgroup">{{.}}</th>{{end}}<th scope="col">differs</th></tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Differs}} class="differs"{{end}} data-writer="{{.Writer}}" data-reader="{{.Reader}}" data-differs="{{.Differs}}"><th scope="row">{{.Writer}}</th><th scope="row">{{.Reader}}</th>{{range .Cells}}{{if .Missing}}<td class="missing" data-label="{{.Label}}">—</td>{{else}}<td class="v v-{{.Verdict}}{{if .Unmet}} unmet{{end}}" data-label="{{.Label}}" data-verdict="{{.Verdict}}">{{template "cell" .}}</td>{{end}}{{end}}<td class="mark">{{if .Differs}}≠{{end}}</td></tr>
{{end}}</tbody>
</table>
{{template "legend" .Legend}}
</section>
</body>
</html>
`))
})
