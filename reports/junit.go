package reports

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/results"
)

// JUnit renders r as JUnit XML for CI: one <testsuite> per writer (sorted)
// with the run's environment as properties, one <testcase> per reader
// (sorted) with classname "mapchaos.<writer>", a <failure> where the
// expectation was not met, an <error> where the writer itself failed, and
// the verdict and counts in <system-out>.
func JUnit(r Report) ([]byte, error) {
	m := newMatrix(r.Results)
	props := junitProps(r.Run)
	doc := junitSuites{
		Name: "mapchaos",
		Time: seconds(r.Run.DurationMS),
	}
	for _, w := range m.writers {
		s := junitSuite{
			Name:       w,
			Timestamp:  r.Run.Started,
			Hostname:   r.Run.Host,
			Properties: props,
		}
		var ms int64
		for _, rd := range m.readers {
			e, ok := m.at(w, rd)
			if !ok {
				continue
			}
			c := junitCase{
				Name:      rd,
				Classname: "mapchaos." + w,
				Time:      seconds(e.DurationMS),
				SystemOut: &junitText{xmlText(summaryText(e))},
			}
			if unmet(e) {
				c.Failure = &junitProblem{
					Message: observedText(e),
					Type:    e.Verdict.String(),
					Body:    xmlText(evidenceText(e)),
				}
				s.Failures++
			}
			if e.WriterError != "" {
				c.Error = &junitProblem{
					Message: "writer failed: " + lines.First(e.WriterError),
					Type:    "writer-error",
					Body:    xmlText(e.WriterError),
				}
				s.Errors++
			}
			ms += e.DurationMS
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		s.Time = seconds(ms)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// The JUnit XML elements, as Jenkins, GitLab and GitHub read them.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Hostname   string          `xml:"hostname,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property"`
		Cases      []junitCase     `xml:"testcase"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure,omitempty"`
		Error     *junitProblem `xml:"error,omitempty"`
		SystemOut *junitText    `xml:"system-out,omitempty"`
	}
	// junitText is text kept readable in CDATA; newText makes it valid XML.
	junitText struct {
		Text string `xml:",cdata"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",cdata"`
	}
)

// junitProps are the run's environment as JUnit properties, named as in
// report.json.
func junitProps(run Run) []junitProperty {
	ps := []junitProperty{
		{"seed", strconv.FormatInt(run.Seed, 10)},
		{"mode", run.Mode},
		{"requested_mode", run.Requested},
		{"goos", run.GOOS},
		{"goarch", run.GOARCH},
		{"emulation", run.Emulation},
		{"kernel", run.Kernel},
		{"page_size", strconv.Itoa(run.PageSize)},
		{"fs", run.FS},
		{"go", run.Go},
		{"config", run.Config},
		{"fixture", run.Fixture},
	}
	out := ps[:0]
	for _, p := range ps {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	for _, f := range moduleFacts(run.Modules) {
		out = append(out, junitProperty{"module " + f.Label, f.Value})
	}
	return out
}

// seconds formats milliseconds as JUnit seconds: "1.500".
func seconds(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) }

// roles are the reader roles in the order reports show them.
var roles = []results.Role{results.Running, results.Starting}

// summaryText is the verdict and counts of e in a few lines.
func summaryText(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\n", verdictText(e))
	fmt.Fprintf(&b, "counts: %s\n", countsText(e.Counts))
	for _, role := range roles {
		if rr, ok := e.Roles[role]; ok {
			fmt.Fprintf(&b, "%s readers: %d, %s (%s)\n", role, rr.Readers, rr.Verdict, countsText(rr.Counts))
		}
	}
	fmt.Fprintf(&b, "lookups: %d, updates: %d\n", e.Lookups, e.Updates)
	return b.String()
}

// evidenceText is the evidence of e as plain text: facts, then blocks.
func evidenceText(e Entry) string {
	ev := evidenceOf(e)
	var b strings.Builder
	for _, f := range ev.Facts {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	for _, bl := range ev.Blocks {
		fmt.Fprintf(&b, "\n%s:\n%s\n", bl.Label, bl.Text)
	}
	return b.String()
}

// xmlText replaces the characters XML cannot hold (NUL, most control
// characters; invalid UTF-8 is read as U+FFFD already), all possible in a
// reader's stderr, with U+FFFD.
// encoding/xml does this for attributes and escaped text, not for CDATA.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}
