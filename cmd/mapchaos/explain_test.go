package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

// mapchaosWith runs the binary in dir with stdin and extra environment.
func mapchaosWith(dir string, stdin io.Reader, env []string, args ...string) *gexec.Session {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdin = dir, stdin
	cmd.Env = append(os.Environ(), env...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// crashTrace returns the stderr of a reader that the harness itself killed
// in dir/out (a `fatal error: fault` trace produced on this machine).
func crashTrace(dir string) string {
	GinkgoHelper()
	files, err := filepath.Glob(filepath.Join(dir, "out", "runs", "cp_x_mmap", "readers", "*.stderr"))
	Expect(err).NotTo(HaveOccurred())
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "fatal error: fault") {
			return f
		}
	}
	Fail("no reader of cp x mmap died of a fault in " + dir)
	return ""
}

var _ = Describe("mapchaos explain", func() {
	Describe("on traces the harness produced here", Ordered, Serial, func() {
		var dir, trace string

		BeforeAll(func() {
			dir = GinkgoT().TempDir()
			writeConfig(dir, small)
			Eventually(mapchaos(dir, "matrix", "--writers", "cp", "--readers", "mmap", "--out", "out")).Should(gexec.Exit(0))
			trace = crashTrace(dir)
		})

		It("says what happened, the cause, the combinations that reproduce it and the fixes", func() {
			s := mapchaos(dir, "explain", trace)
			Eventually(s).Should(gexec.Exit(0))
			out := string(s.Out.Contents())
			for _, want := range []string{
				"A Go program died of a memory fault (fatal error: fault): SIGBUS (bus error), code BUS_ADRERR",
				"BUS_ADRERR: the address is inside a mapping but no page of the file backs it",
				"faulting frame: github.com/oschwald/maxminddb-golang.",
				"library: maxminddb-golang v1.13.1 (Go)",
				"Likely cause", "truncated or rewritten in place", "rsync --inplace", "wget -O",
				"cp x mmap (expected crash)",
				"$ mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5",
				"1. Replace the file atomically", "2. Swap a symlink atomically", "3. Read the file into memory",
				"4. Last resort: debug.SetPanicOnFault + recover + reopen", "Cost: RAM equal to the file size",
			} {
				Expect(out).To(ContainSubstring(want))
			}
			Expect(out).NotTo(ContainSubstring("rename x mmap (expected"), "rename is expected safe: it does not reproduce a crash")
		})

		It("reads the trace from stdin, with log prefixes and CRLF as pasted from Kubernetes", func() {
			b, err := os.ReadFile(trace)
			Expect(err).NotTo(HaveOccurred())
			var pasted strings.Builder
			for _, l := range strings.Split(string(b), "\n") {
				pasted.WriteString("2026-11-30T05:40:30.118823901Z stderr F " + l + "\r\n")
			}
			s := mapchaosWith(dir, strings.NewReader(pasted.String()), nil, "explain", "-")
			Eventually(s).Should(gexec.Exit(0))
			Expect(s.Out).To(gbytes.Say(`signal: SIGBUS \(7\), code BUS_ADRERR`))
		})

		It("prints JSON with --json", func() {
			s := mapchaos(dir, "explain", "--json", trace)
			Eventually(s).Should(gexec.Exit(0))
			var x struct {
				Schema, Kind, Signal, Code string
				Library                    struct{ Name, Version string }
				Reproduce                  []struct{ Writer, Reader, Command string }
				Fixes                      []struct{ Title, Cost string }
			}
			Expect(json.Unmarshal(s.Out.Contents(), &x)).To(Succeed())
			Expect(x.Schema).To(Equal("mapchaos.explain/v1"))
			Expect([]string{x.Kind, x.Signal, x.Code, x.Library.Name, x.Library.Version}).To(Equal([]string{"fault", "SIGBUS", "BUS_ADRERR", "maxminddb-golang", "v1.13.1"}))
			Expect(x.Reproduce).To(HaveLen(1))
			Expect(x.Reproduce[0].Command).To(Equal("mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5"))
			Expect(x.Fixes).To(HaveLen(4))
		})

		It("--reproduce races the combinations, finds the same signature, and leaves no files behind", func() {
			tmp := GinkgoT().TempDir()
			s := mapchaosWith(dir, nil, []string{"TMPDIR=" + tmp}, "explain", "--reproduce", trace)
			Eventually(s).Should(gexec.Exit(0))
			Expect(s.Err).To(gbytes.Say(`racing cp x mmap \(1 of 1, seed 5\)`))
			Expect(s.Out).To(gbytes.Say(`Raced here: 1 of 1 combinations showed the same fault`))
			Expect(s.Out).To(gbytes.Say(`cp x mmap: crash with SIGBUS BUS_ADRERR in maxminddb-golang v1.13.1: the same signature`))
			Expect(os.ReadDir(tmp)).To(BeEmpty())
		})

		It("--reproduce --out keeps the runs and a report", func() {
			s := mapchaos(dir, "explain", "--reproduce", "--out", "kept", "--json", trace)
			Eventually(s).Should(gexec.Exit(0))
			var x struct {
				Reproduced []struct{ Match, Dir string }
			}
			Expect(json.Unmarshal(s.Out.Contents(), &x)).To(Succeed())
			Expect(x.Reproduced).To(HaveLen(1))
			Expect(x.Reproduced[0].Match).To(Equal("same"))
			Expect(x.Reproduced[0].Dir).To(BeADirectory())
			reps, err := filepath.Glob(filepath.Join(dir, "kept", "mapchaos-explain-*", "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(reps).To(HaveLen(1))
		})

		It("exits 3 when --reproduce cannot run", func() {
			blocker := filepath.Join(dir, "not-a-directory")
			Expect(os.WriteFile(blocker, nil, 0o644)).To(Succeed())
			s := mapchaosWith(dir, nil, []string{"MAPCHAOS_CACHE=" + filepath.Join(blocker, "cache")}, "explain", "--reproduce", trace)
			Eventually(s).Should(gexec.Exit(3))
			Expect(s.Err).To(gbytes.Say(`--reproduce: fixture`))
		})
	})

	DescribeTable("other failures: exit 0, no memory fault, and what it found",
		func(trace, found string) {
			s := mapchaosWith(GinkgoT().TempDir(), strings.NewReader(trace), nil, "explain")
			Eventually(s).Should(gexec.Exit(0))
			Expect(s.Out).To(gbytes.Say("No memory fault found"))
			Expect(s.Out).To(gbytes.Say(regexpQuote(found)))
		},
		Entry("a nil map write", "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/app/main.go:61 +0x2ac\nexit status 2\n", "a write to a nil map"),
		Entry("a deadlock", "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n\t/src/main.go:5 +0x25\n", "a deadlock"),
		Entry("an OOM kill", "Nov 30 05:40:30 node-7 kernel: Out of memory: Killed process 4242 (geo) total-vm:4194304kB\n", "OOM killer"),
		Entry("an ordinary log", "INFO listening on :8080\n", "nothing else that looks like a crash"),
	)

	DescribeTable("a foreign process killed by a signal",
		func(trace, signal string) {
			s := mapchaosWith(GinkgoT().TempDir(), strings.NewReader(trace), nil, "explain", "--config", filepath.Join(repoRoot(), "ginkgo.yml"))
			Eventually(s).Should(gexec.Exit(0))
			Expect(s.Out).To(gbytes.Say("was killed by " + signal))
		},
		Entry("a shell's Bus error", "Bus error (core dumped)\n", "SIGBUS"),
		Entry("os/exec", "reader failed: signal: bus error\n", "SIGBUS"),
		Entry("exit status 135", "geo: exit status 135\n", "SIGBUS"),
		Entry("Killed by signal 7", "Killed by signal 7\n", "SIGBUS"),
		Entry("Segmentation fault", "Segmentation fault (core dumped)\n", "SIGSEGV"),
	)

	It("names the combinations of the project's ginkgo.yml for a foreign reader too", func() {
		s := mapchaosWith(GinkgoT().TempDir(), strings.NewReader("Bus error (core dumped)\n"), nil, "explain", "--config", filepath.Join(repoRoot(), "ginkgo.yml"))
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`cp x mmap \(expected crash\)`))
		Expect(s.Out).To(gbytes.Say(`inplace x mmap \(expected crash\)`))
	})

	It("names the combinations of the built-in default config when there is no ginkgo.yml, and says it used it", func() {
		s := mapchaosWith(GinkgoT().TempDir(), strings.NewReader("Bus error (core dumped)\n"), nil, "explain")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`^config: built-in default \(print it with mapchaos config\)\n`))
		Expect(s.Out).To(gbytes.Say(`cp x mmap \(expected crash\)`))
		Expect(s.Out).To(gbytes.Say(`inplace x mmap \(expected crash\)`))
	})

	It("explains a trace at the end of a large log as it explains the trace alone", func() {
		trace, err := os.ReadFile(filepath.Join(repoRoot(), "explain", "testdata", "harness-cp-mmap.txt"))
		Expect(err).NotTo(HaveOccurred())
		alone := mapchaosWith(GinkgoT().TempDir(), bytes.NewReader(trace), nil, "explain")
		Eventually(alone).Should(gexec.Exit(0))
		var log bytes.Buffer
		for i := 0; log.Len() < 20<<20; i++ {
			fmt.Fprintf(&log, "2026-11-30T05:40:%02d.%03dZ INFO lookup 11.0.%d.%d -> city %d\n", i%60, i%1000, i%256, i%251, i)
		}
		log.Write(trace)
		s := mapchaosWith(GinkgoT().TempDir(), &log, nil, "explain")
		Eventually(s).Should(gexec.Exit(0))
		Expect(string(s.Out.Contents())).To(Equal(string(alone.Out.Contents())))
	})

	DescribeTable("on Ctrl-C while the trace never ends: exit 3, saying it was interrupted",
		func(setup func(dir string) (io.Reader, []string)) {
			dir := GinkgoT().TempDir()
			stdin, args := setup(dir)
			s := mapchaosWith(dir, stdin, nil, append([]string{"explain"}, args...)...)
			Consistently(s, 300*time.Millisecond).ShouldNot(gexec.Exit())
			s.Signal(syscall.SIGINT)
			Eventually(s).Should(gexec.Exit(3))
			Expect(s.Err).To(gbytes.Say("context canceled"))
			Expect(s.Err).To(gbytes.Say("interrupted"))
			Expect(s.Out.Contents()).To(BeEmpty())
		},
		Entry("a FIFO whose writer never finishes", func(dir string) (io.Reader, []string) {
			fifo := filepath.Join(dir, "trace.fifo")
			Expect(syscall.Mkfifo(fifo, 0o600)).To(Succeed())
			w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that stays open
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(w.Close)
			_, err = w.WriteString("fatal error: fault\n")
			Expect(err).NotTo(HaveOccurred())
			return nil, []string{"trace.fifo"}
		}),
		Entry("a FIFO that no writer opens", func(dir string) (io.Reader, []string) {
			Expect(syscall.Mkfifo(filepath.Join(dir, "trace.fifo"), 0o600)).To(Succeed())
			return nil, []string{"trace.fifo"}
		}),
		Entry("stdin that never ends", func(string) (io.Reader, []string) {
			r, w, err := os.Pipe() // a file: the child reads the pipe itself
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(r.Close)
			DeferCleanup(w.Close)
			_, err = w.WriteString("Bus error\n")
			Expect(err).NotTo(HaveOccurred())
			return r, nil
		}),
	)

	DescribeTable("bad input: exit 2 and a message naming it",
		func(setup func(dir string) (io.Reader, []string), msg string) {
			dir := GinkgoT().TempDir()
			stdin, args := setup(dir)
			s := mapchaosWith(dir, stdin, nil, append([]string{"explain"}, args...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote(msg)))
			Expect(s.Out.Contents()).To(BeEmpty())
		},
		Entry("empty stdin", func(string) (io.Reader, []string) { return strings.NewReader(""), nil },
			"stdin: no input: paste a crash trace"),
		Entry("a binary file", func(dir string) (io.Reader, []string) {
			Expect(os.WriteFile(filepath.Join(dir, "core"), append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 256)...), 0o644)).To(Succeed())
			return nil, []string{"core"}
		}, "core: binary input, not a text trace: an ELF file"),
		Entry("a missing file", func(string) (io.Reader, []string) { return nil, []string{"trace.txt"} },
			"open trace.txt: no such file or directory"),
		Entry("an endless file", func(string) (io.Reader, []string) { return nil, []string{"/dev/zero"} },
			"/dev/zero: larger than 64 MiB, the most mapchaos reads for a crash trace: give the part of the log around the crash"),
		Entry("two files", func(string) (io.Reader, []string) { return nil, []string{"a.txt", "b.txt"} },
			"one trace at a time: got 2 arguments (a.txt b.txt)"),
		Entry("an unknown flag", func(string) (io.Reader, []string) { return nil, []string{"--frobnicate"} },
			"flag provided but not defined: -frobnicate"),
		Entry("--out without --reproduce", func(string) (io.Reader, []string) {
			return strings.NewReader("Bus error\n"), []string{"--out", "x"}
		}, "--out is for --reproduce"),
		Entry("a broken ginkgo.yml", func(dir string) (io.Reader, []string) {
			writeConfig(dir, "race:\n  sped: 4\n")
			return strings.NewReader("Bus error\n"), nil
		}, `ginkgo.yml:2: unknown key "sped" in race`),
	)
})

// repoRoot is the module's root directory (the suite runs in cmd/mapchaos).
func repoRoot() string {
	wd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	return filepath.Join(wd, "..", "..")
}
