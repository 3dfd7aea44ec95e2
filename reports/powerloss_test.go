package reports_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("crash states", func() {
	It("lists each state of report.md with what was lost, what is on disk and each reader's verdict", func() {
		md := reports.Markdown(fullReport())
		Expect(md).To(ContainSubstring("## Crash states after a power loss"))
		Expect(md).To(ContainSubstring("`posix` persistence model"))
		Expect(md).To(ContainSubstring("64 distinct states opened, drawn from the seed, of about 10^744 the model allows."))
		Expect(md).To(ContainSubstring("| 3 crash | #3 `renameat(\"db.mmdb.tmp\", \"db.mmdb\") = 0` | \"db.mmdb\": size 0 instead of 10066229 | **empty**: empty file | db.mmdb.tmp | degraded (**down**) |"))
	})

	It("lets a reader of report.html open each crash state of a combination", func() {
		html, err := reports.HTML(fullReport())
		Expect(err).NotTo(HaveOccurred())
		Expect(string(html)).To(ContainSubstring("<h4>crash states</h4>"))
		Expect(string(html)).To(ContainSubstring(`<details class="state v-degraded"><summary>update A-&gt;B, state 3 (crash): empty -&gt; degraded, down</summary>`))
		Expect(string(html)).To(ContainSubstring("<dt>on disk</dt><dd>empty file</dd>"))
		Expect(string(html)).NotTo(ContainSubstring("state 3 (crash) power lost after #3"), "the states open one by one, not as one block")
	})
})

var _ = Describe("the kernel check", func() {
	It("is a table after each update's crash states in report.md, with the replay of each state", func() {
		md := reports.Markdown(fullReport())
		Expect(md).To(ContainSubstring("**Kernel check** (ext4 over dm-log-writes, Linux 6.1.0-57-cloud-amd64): 42 log entries after the update's start (13 flush or FUA), 31 replays (20 mounted)"))
		Expect(md).To(ContainSubstring("1 NOT allowed by the ext4-ordered model (a bug in the model)"))
		Expect(md).To(ContainSubstring("| 1 | 155 fua+metadata write (after mark mapchaos-update; 17 replays) | yes (after #42, names as after #41) | **zero-filled**:"))
	})

	It("lets a reader of report.html open each state the kernel left", func() {
		html, err := reports.HTML(fullReport())
		Expect(err).NotTo(HaveOccurred())
		Expect(string(html)).To(ContainSubstring("update A-&gt;B, kernel state 1: zero-filled -&gt; degraded, down</summary>"))
		Expect(string(html)).To(ContainSubstring("<dt>replayed to</dt><dd>log entry 155 (fua&#43;metadata write), after mark mapchaos-update; 17 replays</dd>"))
	})
})
