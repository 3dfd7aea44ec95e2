package step_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
)

var _ = Describe("detecting that ptrace is not allowed", func() {
	DescribeTable("kernel.yama.ptrace_scope",
		func(content string, forbidden bool) {
			path := filepath.Join(GinkgoT().TempDir(), "ptrace_scope")
			if content != "" {
				Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
			}
			err := step.CheckYama(path)
			if !forbidden {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(MatchError(step.ErrNotPermitted))
			Expect(err).To(MatchError(ContainSubstring("ptrace_scope is 3")))
		},
		Entry("no Yama: allowed", "", false),
		Entry("0: allowed", "0\n", false),
		Entry("1 (descendants only): allowed, the updater is our child", "1\n", false),
		Entry("2 (admin only): left to PTRACE_SEIZE", "2\n", false),
		Entry("3: no attach at all", "3\n", true),
	)

	DescribeTable("a failed PTRACE_SEIZE",
		func(errno unix.Errno, forbidden bool) {
			err := step.SeizeFailure(errno)
			Expect(err).To(MatchError(errno))
			Expect(errors.Is(err, step.ErrNotPermitted)).To(Equal(forbidden), "%v", err)
		},
		Entry("EPERM (a container's seccomp profile, ptrace_scope 2 without CAP_SYS_PTRACE)", unix.EPERM, true),
		Entry("EACCES (an LSM)", unix.EACCES, true),
		Entry("ENOSYS (ptrace removed by a seccomp profile)", unix.ENOSYS, true),
		Entry("ESRCH is no such verdict", unix.ESRCH, false),
	)

	It("is not reported on this machine, where the specs step for real", func() {
		Expect(step.Available()).To(Succeed())
	})
})

var _ = Describe("Config", func() {
	It("names every missing piece", func(ctx SpecContext) {
		_, err := step.Run(ctx, step.Config{})
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"no updater command", "no trace wrapper", "no target", "no old or new version", "no Prepare"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})
})

var _ = Describe("matching the calls of two runs", func() {
	DescribeTable("names not in the directory before or after the update may differ",
		func(a, b string, same bool) {
			stable := []string{"db.mmdb", "new.mmdb"}
			Expect(step.SameName(a, stable) == step.SameName(b, stable)).To(Equal(same))
		},
		Entry("rsync's temporary files", `openat(".db.mmdb.nf5LV9", O_RDWR|O_CREAT|O_EXCL, 0600) = 5`, `openat(".db.mmdb.K6QHsj", O_RDWR|O_CREAT|O_EXCL, 0600) = 5`, true),
		Entry("the target itself is not a wildcard", `unlinkat("db.mmdb") = 0`, `unlinkat("other") = 0`, false),
		Entry("other arguments must match", `write(".db.x", 10 bytes) = 10`, `write(".db.y", 11 bytes) = 11`, false),
	)
})

var _ = Describe("report.md of a stepped run", Label("ptrace"), func() {
	It("renders each stepped update with its states, first unsafe state and kill points", func(ctx SpecContext) {
		seq := stepBuiltin(ctx, "cp", fx.Shrink)
		var r reports.Report
		for _, rd := range []string{"mmap", "bytes"} {
			r.Results = append(r.Results, reports.Entry{Result: step.Result("cp", rd, []step.Update{{Label: "A->B", Seq: seq}}, "")})
		}
		md := reports.Markdown(r)
		Expect(md).To(ContainSubstring("\n## Step sequences\n"))
		md = md[strings.Index(md, "## Step sequences"):]
		Expect(md).To(ContainSubstring("### cp, update A-\\>B"))
		Expect(md).To(ContainSubstring("| mmap | bytes |"))
		Expect(md).To(ContainSubstring("**1** (first unsafe)"))
		Expect(md).To(ContainSubstring("crash / degraded"))
		// The descriptor number depends on what the runtime opened first.
		Expect(md).To(MatchRegexp(`\| #1 \| ` + "`" + `openat\("db\.mmdb", O_WRONLY\\\|O_CREAT\\\|O_TRUNC, 0644\) = \d+` + "`" + ` \| \*\*empty file\*\* \|`))
		// Every row of a table has as many cells as its header.
		cols := 0
		for _, l := range strings.Split(md, "\n") {
			if !strings.HasPrefix(l, "|") {
				cols = 0
				continue
			}
			n := strings.Count(l, "|") - strings.Count(l, `\|`)
			if cols == 0 {
				cols = n
			}
			Expect(n).To(Equal(cols), l)
		}
	})

	It("is empty for a race-mode report", func() {
		Expect(reports.Markdown(reports.Report{Results: []reports.Entry{{}}})).NotTo(ContainSubstring("## Step sequences"))
	})
})

var _ = Describe("running readers that share a mapping", func() {
	DescribeTable("sameStrategy",
		func(a, b readers.Strategy, same bool) {
			Expect(step.SameStrategy(a, b)).To(Equal(same))
		},
		Entry("mmap and mmap-recover both run as a plain Mmap", readers.Mmap{}, readers.Mmap{}, true),
		Entry("the recovering Mmap is another strategy", readers.Mmap{}, readers.Mmap{PanicOnFault: true}, false),
		Entry("Mmap and Bytes", readers.Mmap{}, readers.Bytes{}, false),
		Entry("two foreign readers of one command are two processes, never shared",
			readers.ForeignStrategy{Argv: []string{"r", "{target}"}}, readers.ForeignStrategy{Argv: []string{"r", "{target}"}}, false),
	)
})
