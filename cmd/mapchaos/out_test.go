package main_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
)

// fileState is what a run must not change in a file of the user's.
type fileState struct {
	Data  string
	Mode  fs.FileMode
	MTime time.Time
}

// snapshot records every entry under root (bytes, mode, mtime), skipping
// the directories named in skip (relative to root).
func snapshot(root string, skip ...string) map[string]fileState {
	out := map[string]fileState{}
	Expect(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		Expect(err).NotTo(HaveOccurred())
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if rel == s {
				return filepath.SkipDir
			}
		}
		st, err := os.Lstat(p)
		Expect(err).NotTo(HaveOccurred())
		fsx := fileState{Mode: st.Mode(), MTime: st.ModTime()}
		if st.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			fsx.Data = string(b)
		}
		out[rel] = fsx
		return nil
	})).To(Succeed())
	return out
}

// project lays out a user's project in dir: files of every kind mapchaos
// might be tempted to touch, with unusual modes and old mtimes.
func project(dir string) {
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for rel, text := range map[string]string{"go.mod": "module x\n", "runs/notes.txt": "mine", "report.md": "# my report\n", "src/main.go": "package main\n"} {
		p := filepath.Join(dir, rel)
		Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		Expect(os.WriteFile(p, []byte(text), 0o600)).To(Succeed())
		Expect(os.Chtimes(p, old, old)).To(Succeed())
	}
}

var _ = Describe("--out never takes a directory that holds files of the user's", func() {
	DescribeTable("a project directory, the current one included: exit 2, naming it, what in it is not mapchaos's and what would do; nothing changed",
		func(out string, args ...string) {
			dir := GinkgoT().TempDir()
			project(dir)
			before := snapshot(dir)
			s := mapchaos(dir, append(args, "--out", out)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote("--out " + dir + ": it holds go.mod, report.md, runs, src, which mapchaos did not write")))
			Expect(s.Err).To(gbytes.Say(regexpQuote("choose a new directory, e.g. --out " + filepath.Join(dir, "mapchaos-out"))))
			Expect(snapshot(dir)).To(Equal(before))
		},
		Entry("matrix --out .", ".", "matrix", "--writers", "rename", "--readers", "mmap"),
		Entry("matrix --out ''", "", "matrix", "--writers", "rename", "--readers", "mmap"),
		Entry("check --out .", ".", "check", "--writer-cmd", "cp {new} {target}", "--readers", "mmap"),
	)
})

var _ = Describe("a run leaves the user's files as they were", Serial, func() {
	It("keeps --old and --new (bytes, mode, mtime), and refuses its own output once the user put a file under runs/", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		p, err := fixtures.Generate(context.Background(), fixtures.Spec{Size: fixtures.MinSize}, filepath.Join(dir, "cache"))
		Expect(err).NotTo(HaveOccurred())
		old, nw := filepath.Join(dir, "mine", "old.mmdb"), filepath.Join(dir, "mine", "new.mmdb")
		Expect(os.MkdirAll(filepath.Dir(old), 0o755)).To(Succeed())
		for src, dst := range map[string]string{p.A: old, p.B: nw} {
			b, err := os.ReadFile(src)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(dst, b, 0o640)).To(Succeed())
			t := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
			Expect(os.Chtimes(dst, t, t)).To(Succeed())
		}
		before := snapshot(filepath.Dir(old))
		s := mapchaos(dir, "matrix", "--old", old, "--new", nw, "--writers", "cp,rename", "--updates", "3", "--out", "out")
		Eventually(s).Should(gexec.Exit(0))
		Expect(snapshot(filepath.Dir(old))).To(Equal(before))

		By("refusing the output once a file of the user's is under runs/, and leaving it alone")
		keep := filepath.Join(dir, "out", "runs", "keep.txt")
		Expect(os.WriteFile(keep, []byte("mine"), 0o600)).To(Succeed())
		outBefore := snapshot(filepath.Join(dir, "out"))
		again := mapchaos(dir, "matrix", "--writers", "rename", "--out", "out")
		Eventually(again).Should(gexec.Exit(2))
		Expect(again.Err).To(gbytes.Say(regexpQuote("it holds " + filepath.Join("runs", "keep.txt") + ", which mapchaos did not write")))
		Expect(snapshot(filepath.Join(dir, "out"))).To(Equal(outBefore))
	})
})
