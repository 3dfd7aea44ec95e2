package reports_test

import (
	"encoding/xml"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// The JUnit shape as a CI system reads it.
type (
	xSuites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Suites   []xSuite `xml:"testsuite"`
	}
	xSuite struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []xCase `xml:"testcase"`
	}
	xCase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Time      string    `xml:"time,attr"`
		Failure   *xProblem `xml:"failure"`
		Error     *xProblem `xml:"error"`
		SystemOut string    `xml:"system-out"`
	}
	xProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",chardata"`
	}
)

func parseJUnit(r reports.Report) xSuites {
	data, err := reports.JUnit(r)
	Expect(err).NotTo(HaveOccurred())
	var doc xSuites
	Expect(xml.Unmarshal(data, &doc)).To(Succeed())
	return doc
}

var _ = Describe("JUnit", func() {
	It("has a suite per writer and a case per reader, sorted", func() {
		doc := parseJUnit(smallReport())
		Expect(doc.Tests).To(Equal(4))
		Expect(doc.Suites).To(HaveLen(2))
		Expect(doc.Suites[0].Name).To(Equal("cp"))
		Expect(doc.Suites[1].Name).To(Equal("rename"))
		for _, s := range doc.Suites {
			Expect(s.Tests).To(Equal(2))
			Expect(s.Cases).To(HaveLen(2))
			Expect(s.Cases[0].Name).To(Equal("bytes"))
			Expect(s.Cases[1].Name).To(Equal("mmap"))
			for _, c := range s.Cases {
				Expect(c.Classname).To(Equal("mapchaos." + s.Name))
				Expect(c.Time).To(Equal("1.500"))
				Expect(c.SystemOut).To(ContainSubstring("verdict: "))
				Expect(c.SystemOut).To(ContainSubstring("counts: "))
			}
			Expect(s.Properties).To(ContainElement(HaveField("Name", "seed")))
		}
	})

	It("fails exactly the cases whose expectation was not met", func() {
		r := smallReport()
		r.Results = append(r.Results, entry("inplace", "mmap", verdicts.Safe, "crash", false))
		doc := parseJUnit(r)
		Expect(doc.Failures).To(Equal(2))
		Expect(doc.Errors).To(Equal(0))

		var failed []xCase
		sum := 0
		for _, s := range doc.Suites {
			sum += s.Failures
			for _, c := range s.Cases {
				if c.Failure != nil {
					failed = append(failed, c)
				}
			}
		}
		Expect(sum).To(Equal(2))
		Expect(failed).To(HaveLen(2))
		Expect(failed[0].Classname + "/" + failed[0].Name).To(Equal("mapchaos.cp/bytes"))
		Expect(failed[0].Failure.Message).To(Equal("expected safe, observed degraded"))
		Expect(failed[0].Failure.Body).To(ContainSubstring("mapchaos matrix --writers cp --readers bytes --seed 7"))
		Expect(failed[0].Failure.Body).To(ContainSubstring("cp x bytes went degraded"))
		Expect(failed[1].Failure.Message).To(Equal("expected crash, observed safe"))
	})

	It("reports a failed writer as an error", func() {
		r := smallReport()
		r.Results[0].WriterError = "rename: EXDEV\nsecond line"
		doc := parseJUnit(r)
		Expect(doc.Errors).To(Equal(1))
		c := doc.Suites[1].Cases[1]
		Expect(c.Error).NotTo(BeNil())
		Expect(c.Error.Message).To(Equal("writer failed: rename: EXDEV"))
		Expect(c.Error.Body).To(Equal("rename: EXDEV\nsecond line"))
	})

	It("stays valid XML whatever stderr held", func() {
		r := fullReport()
		r.Results[0].Evidence.Stderr = "\x00\x1b[31mred]]>\xff<tag>&amp;"
		r.Results[0].Met = false
		doc := parseJUnit(r)
		body := doc.Suites[0].Cases[0].Failure.Body
		Expect(body).To(ContainSubstring("\uFFFD\uFFFD[31mred]]>\uFFFD<tag>&amp;"))
	})
})
