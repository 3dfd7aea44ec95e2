package main_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair, or skips the spec when the system
// has none.
func openPTY() (master, slave *os.File) {
	GinkgoHelper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		Skip("no pseudo-terminals here: " + err.Error())
	}
	Expect(unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0)).To(Succeed())
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	Expect(err).NotTo(HaveOccurred())
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		Skip("cannot open the pseudo-terminal's slave: " + err.Error())
	}
	Expect(unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 160})).To(Succeed())
	return m, s
}

// runOnPTY runs the binary in dir with its stdout on a pseudo-terminal and
// TERM set to term (unset when ""), and returns what the terminal received.
func runOnPTY(dir, term string, args ...string) string {
	GinkgoHelper()
	master, slave := openPTY()
	defer master.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, slave, GinkgoWriter
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TERM=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if term != "" {
		cmd.Env = append(cmd.Env, "TERM="+term)
	}
	Expect(cmd.Start()).To(Succeed())
	slave.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&screen, master) // ends with EIO once the child is gone
	}()
	Expect(cmd.Wait()).To(Succeed())
	Eventually(copied).Should(BeClosed())
	return screen.String()
}

var _ = Describe("progress of mapchaos matrix", Serial, func() {
	finished := []string{`cp\s+x mmap\s+crash\s+ok`, `rename\s+x mmap\s+safe\s+ok`}

	It("on a terminal, rewrites a status line and clears it before each finished line", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		out := runOnPTY(dir, "xterm", "matrix", "--out", "out")
		Expect(out).To(MatchRegexp(`\r\x1b\[K\[ 1/2 +[\d.]+s\] racing cp x mmap \.\.\. so far: nothing finished yet`))
		Expect(out).To(MatchRegexp(`\r\x1b\[K\[ 2/2 +[\d.]+s\] racing rename x mmap \.\.\. so far: 1 crash`))
		for _, f := range finished {
			Expect(out).To(MatchRegexp(`\r\x1b\[K\[ \d/2 +[\d.]+s\] `+f), "a finished line starts on a cleared line")
		}
		Expect(out).To(ContainSubstring("every expectation held"))
		Expect(regexp.MustCompile(`racing [^\r\n]*every expectation`).MatchString(out)).To(BeFalse(), "the status line is gone at the end")
	})

	DescribeTable("on a terminal nobody watches, prints only the finished lines",
		func(term string) {
			dir := GinkgoT().TempDir()
			writeConfig(dir, small)
			out := runOnPTY(dir, term, "matrix", "--out", "out")
			Expect(out).NotTo(ContainSubstring("\x1b["))
			Expect(out).NotTo(ContainSubstring("racing cp x mmap"))
			for _, f := range finished {
				Expect(out).To(MatchRegexp(`(?m)^\[ \d/2 +[\d.]+s\] ` + f))
			}
		},
		Entry("a console without TERM, as in the arm64 guest", ""),
		Entry("TERM=dumb", "dumb"),
	)
})
