package pages_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/internal/waitstatus"
)

// fileLen is the file's length before the truncation: four 64 KiB pages,
// so every offset below stays inside the mapping on any page size.
const fileLen = 256 << 10

// truncated is the size the file is truncated to: just past a 4 KiB
// boundary, well before the next 16 KiB one (20580; its 4 KiB page ends at
// 24576, its 16 KiB page at 32768).
const truncated = 5*4096 + 100

// roundUp is n rounded up to a multiple of page.
func roundUp(n, page int) int { return (n + page - 1) / page * page }

// touched is what the reader process saw.
type touched struct {
	intact, zeros int
	byteLine      string // "byte OFF 0xVV", "" when it died first
	status        string // waitstatus.Describe
	stderr        string
}

// touchAfterTruncate starts the reader on a file of fileLen bytes of 0xAA
// in a temporary directory (TMPDIR: ext4 or tmpfs in the guest), truncates
// the file to size once the reader has it mapped and read, and lets it
// touch off.
func touchAfterTruncate(size, off int) touched {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	path := filepath.Join(dir, "db.mmdb")
	Expect(os.WriteFile(path, bytes.Repeat([]byte{0xAA}, fileLen), 0o644)).To(Succeed())
	cmd := exec.Command(os.Args[0], "pages-touch", path, fmt.Sprint(fileLen), fmt.Sprint(off))
	stdin, err := cmd.StdinPipe()
	Expect(err).NotTo(HaveOccurred())
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	Expect(lines.Scan()).To(BeTrue(), "the reader said nothing: %s", stderr.String())
	Expect(lines.Text()).To(HavePrefix("mapped 0x"))
	Expect(os.Truncate(path, int64(size))).To(Succeed())
	_, err = stdin.Write([]byte("go\n"))
	Expect(err).NotTo(HaveOccurred())
	var t touched
	for lines.Scan() {
		switch l := lines.Text(); {
		case strings.HasPrefix(l, "intact "):
			_, err := fmt.Sscanf(l, "intact %d zeros %d", &t.intact, &t.zeros)
			Expect(err).NotTo(HaveOccurred())
		case strings.HasPrefix(l, "byte "):
			t.byteLine = l
		}
	}
	_ = cmd.Wait()
	t.status, t.stderr = waitstatus.Describe(waitstatus.Of(cmd.ProcessState)), stderr.String()
	Expect(proctest.Mentioning(path)).To(BeEmpty())
	return t
}

var _ = Describe("a mapped file truncated to a size just past a 4 KiB boundary", func() {
	page := os.Getpagesize()
	boundary := roundUp(truncated, page)

	DescribeTable("reads as zeros up to the kernel's page boundary, and faults with SIGBUS from there",
		func(off int, on4K, on16K string) {
			t := touchAfterTruncate(truncated, off)
			AddReportEntry("page size", page)
			AddReportEntry(fmt.Sprintf("touch at %d after a truncation to %d", off, truncated),
				fmt.Sprintf("%s; %s (4 KiB pages: %s; 16 KiB pages: %s)", t.status, orDied(t.byteLine), on4K, on16K))
			By(fmt.Sprintf("page size %d: the old bytes end at %d, zeros up to %d", page, truncated, boundary))
			Expect(t.intact).To(Equal(truncated), "the bytes below the new size are the old ones")
			Expect(t.zeros).To(Equal(boundary-truncated), "the rest of the last page reads as zeros")
			if off < boundary {
				Expect(t.status).To(Equal("exit 0"), t.stderr)
				Expect(t.byteLine).To(Equal(fmt.Sprintf("byte %d 0x00", off)))
				return
			}
			Expect(t.byteLine).To(BeEmpty(), "the touch past the page boundary answered instead of faulting")
			Expect(t.status).To(Equal("exit 2"))
			Expect(t.stderr).To(ContainSubstring("[signal SIGBUS: bus error code=0x2 addr=0x"))
			Expect(t.stderr).To(ContainSubstring("fatal error: fault"))
		},
		Entry("the first byte past the new end: zeros on every page size", truncated, "zeros", "zeros"),
		Entry("past the next 4 KiB boundary, before the next 16 KiB one: SIGBUS on 4 KiB pages, zeros on 16 KiB",
			roundUp(truncated, 4096)+100, "SIGBUS", "zeros"),
		Entry("the last byte before the next 16 KiB boundary: SIGBUS on 4 KiB pages, zeros on 16 KiB", roundUp(truncated, 16384)-1, "SIGBUS", "zeros"),
		Entry("the next 16 KiB boundary: SIGBUS on 4 and 16 KiB pages", roundUp(truncated, 16384), "SIGBUS", "SIGBUS"),
		Entry("the running kernel's page boundary: SIGBUS on every page size", boundary, "SIGBUS", "SIGBUS"),
	)
})

func orDied(byteLine string) string {
	if byteLine == "" {
		return "no answer"
	}
	return byteLine
}
