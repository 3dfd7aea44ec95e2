package reports_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// names lists the names in dir.
func names(dir string) []string {
	des, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

var _ = Describe("WriteAll", func() {
	var dir string
	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "out", "run-1")
	})

	It("creates the directory and writes the four files, and nothing else", func() {
		r := smallReport()
		Expect(reports.WriteAll(dir, r)).To(Succeed())
		Expect(names(dir)).To(ConsistOf("report.json", "report.md", "report.html", "junit.xml"))

		js, err := reports.JSON(r)
		Expect(err).NotTo(HaveOccurred())
		page, err := reports.HTML(r)
		Expect(err).NotTo(HaveOccurred())
		junit, err := reports.JUnit(r)
		Expect(err).NotTo(HaveOccurred())
		for name, want := range map[string][]byte{
			reports.JSONFile:     js,
			reports.MarkdownFile: []byte(reports.Markdown(r)),
			reports.HTMLFile:     page,
			reports.JUnitFile:    junit,
		} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want), name)
			fi, err := os.Stat(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0o644)), name)
		}
	})

	It("replaces an existing report whole", func() {
		big := smallReport()
		for _, w := range []string{"inplace", "remove-create", "symlink-recreate", "symlink-swap"} {
			big.Results = append(big.Results, entry(w, "mmap", verdicts.Crash, "crash", true))
		}
		Expect(reports.WriteAll(dir, big)).To(Succeed())

		small := smallReport()
		small.Results = small.Results[:1]
		small.Run.Seed = 99
		Expect(reports.WriteAll(dir, small)).To(Succeed())

		back, err := reports.Read(filepath.Join(dir, reports.JSONFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(small))
		md, err := os.ReadFile(filepath.Join(dir, reports.MarkdownFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(Equal(reports.Markdown(small)))
		Expect(names(dir)).To(HaveLen(4))
	})

	It("names the file it could not write and leaves no temporary file", func() {
		Expect(os.MkdirAll(filepath.Join(dir, reports.HTMLFile), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, reports.HTMLFile, "x"), nil, 0o644)).To(Succeed())

		err := reports.WriteAll(dir, smallReport())
		Expect(err).To(MatchError(ContainSubstring(filepath.Join(dir, reports.HTMLFile))))
		Expect(names(dir)).To(ConsistOf("report.json", "report.md", "report.html"))
	})

	It("names the directory it could not create", func() {
		file := filepath.Join(GinkgoT().TempDir(), "plain")
		Expect(os.WriteFile(file, nil, 0o644)).To(Succeed())
		err := reports.WriteAll(filepath.Join(file, "sub"), smallReport())
		Expect(err).To(MatchError(ContainSubstring("create report directory")))
		Expect(err).To(MatchError(ContainSubstring(file)))
	})

	It("writes nothing when a file cannot be rendered", func() {
		r := smallReport()
		r.Schema = "mapchaos.report/v0"
		Expect(reports.WriteAll(dir, r)).To(MatchError(ContainSubstring("render report.json")))
		Expect(dir).NotTo(BeADirectory())
	})
})
