package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("the built-in default config", func() {
	It("mapchaos config prints it: the repository's ginkgo.yml, which parses to the same config", func() {
		s := mapchaos(GinkgoT().TempDir(), "config")
		Eventually(s).Should(gexec.Exit(0))
		repo, err := os.ReadFile(filepath.Join(repoRoot(), "ginkgo.yml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(s.Out.Contents())).To(Equal(string(repo)))

		printed, err := config.Parse(s.Out.Contents(), "printed.yml")
		Expect(err).NotTo(HaveOccurred())
		want, err := config.Load(filepath.Join(repoRoot(), "ginkgo.yml"))
		Expect(err).NotTo(HaveOccurred())
		want.Path = ""
		Expect(printed).To(Equal(want))
		Expect(printed.Expect).NotTo(BeEmpty())
	})

	It("mapchaos config refuses an argument: exit 2 and its usage", func() {
		s := mapchaos(GinkgoT().TempDir(), "config", "extra")
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`unexpected argument "extra"`))
		Expect(s.Err).To(gbytes.Say(`Usage: mapchaos config > ginkgo.yml`))
		Expect(s.Out.Contents()).To(BeEmpty())
	})

	It("is what matrix uses in a directory without ginkgo.yml: it says so first, and its expectations are checked", Serial, func() {
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "matrix", "--writers", "rename", "--readers", "mmap", "--updates", "2", "--out", "out")
		Eventually(s).Should(gexec.Exit(0))
		first, _, _ := strings.Cut(string(s.Out.Contents()), "\n")
		Expect(first).To(Equal("config: built-in default (print it with mapchaos config)"))
		Expect(s.Out).To(gbytes.Say(`rename\s+x mmap\s+safe\s+ok`))
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results).To(HaveLen(1))
		Expect(rep.Results[0].Expected).To(Equal("safe"), "the built-in ginkgo.yml expects rename x mmap to be safe")
		Expect(rep.Results[0].Met).To(BeTrue())
		Expect(rep.Run.Seed).To(Equal(int64(42)), "race.seed of the built-in ginkgo.yml")
	})

	It("is not used when ./ginkgo.yml exists: explain names the file it read, on stderr under --json", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		s := mapchaosWith(dir, strings.NewReader("Bus error (core dumped)\n"), nil, "explain")
		Eventually(s).Should(gexec.Exit(0))
		first, _, _ := strings.Cut(string(s.Out.Contents()), "\n")
		Expect(first).To(Equal("config: ./ginkgo.yml"))
		Expect(string(s.Out.Contents())).NotTo(ContainSubstring("inplace x mmap"), "small names cp and rename only")

		j := mapchaosWith(dir, strings.NewReader("Bus error (core dumped)\n"), nil, "explain", "--json")
		Eventually(j).Should(gexec.Exit(0))
		Expect(j.Err).To(gbytes.Say(`config: \./ginkgo\.yml`))
		var x map[string]any
		Expect(json.Unmarshal(j.Out.Contents(), &x)).To(Succeed(), "stdout is the JSON alone")
	})
})
