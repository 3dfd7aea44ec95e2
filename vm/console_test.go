package vm_test

import (
	"bytes"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/vm"
)

// guestSays returns what a Reporter prints for the calls in say.
func guestSays(say func(r *vm.Reporter)) string {
	var b bytes.Buffer
	say(vm.NewReporter(&b))
	return b.String()
}

// slowWriter is a console that takes a little while for each write.
type slowWriter struct{ b *bytes.Buffer }

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	return w.b.Write(p) // the Reporter serialises its writes
}

// serial turns "\n" into "\r\n", as the guest's tty does.
func serial(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

var _ = Describe("the console protocol", func() {
	big := bytes.Repeat([]byte("report.json bytes \x00\xff "), 400) // many data lines

	It("brings a step's exit, timing and blob back through a serial console, passing other lines through", func() {
		console := "[    1.2] kernel says hello\n" + guestSays(func(r *vm.Reporter) {
			Expect(r.Info("kernel", "6.1.0-57-cloud-arm64")).To(Succeed())
			Expect(r.Begin("ext4")).To(Succeed())
		}) + "racing 18 combinations\n" + guestSays(func(r *vm.Reporter) {
			Expect(r.End("ext4", 1, 1500*time.Millisecond, "")).To(Succeed())
			Expect(r.Blob("ext4", big)).To(Succeed())
			Expect(r.Done()).To(Succeed())
		}) + "[    9.5] reboot: Power down\n"
		var passed []string
		t, err := vm.ParseConsole(strings.NewReader(serial(console)), func(l string) {
			if l != "" {
				passed = append(passed, l)
			}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Errors).To(BeEmpty())
		Expect(passed).To(Equal([]string{"[    1.2] kernel says hello", "racing 18 combinations", "[    9.5] reboot: Power down"}))
		Expect(t.Info).To(HaveKeyWithValue("kernel", "6.1.0-57-cloud-arm64"))
		Expect(t.Done).To(BeTrue())
		s := t.Step("ext4")
		Expect(s).NotTo(BeNil())
		Expect(s.Ended).To(BeTrue())
		Expect(s.Code).To(Equal(1))
		Expect(s.Duration).To(Equal(1500 * time.Millisecond))
		Expect(s.Blob).To(Equal(big))
	})

	It("brings two steps' blobs back whole while both send them and print at the same time (Lines)", func() {
		var b bytes.Buffer
		r := vm.NewReporter(slowWriter{&b}) // so that the goroutines' lines interleave
		done := make(chan struct{})
		go func() {
			defer close(done)
			out := r.Lines("[tmpfs] ")
			for range 200 {
				_, _ = out.Write([]byte("tmpfs progr"))
				_, _ = out.Write([]byte("ess\n"))
			}
			_, _ = out.Write([]byte("no newline"))
			Expect(out.Close()).To(Succeed())
		}()
		other := make(chan error)
		go func() { other <- r.Blob("tmpfs", big[:len(big)/2]) }()
		Expect(r.Blob("ext4", big)).To(Succeed())
		Expect(<-other).To(Succeed())
		<-done
		var passed []string
		t, err := vm.ParseConsole(strings.NewReader(serial(b.String())), func(l string) {
			if l != "" {
				passed = append(passed, l)
			}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Errors).To(BeEmpty())
		Expect(t.Step("ext4").Blob).To(Equal(big))
		Expect(t.Step("tmpfs").Blob).To(Equal(big[:len(big)/2]), "two steps' blobs sent at the same time")
		Expect(passed).To(HaveLen(201))
		Expect(passed[:200]).To(HaveEach("[tmpfs] tmpfs progress"))
		Expect(passed[200]).To(Equal("[tmpfs] no newline"))
	})

	It("finds a marker after output that lacked its newline", func() {
		console := "partial output" + strings.TrimPrefix(guestSays(func(r *vm.Reporter) { _ = r.Begin("tmpfs") }), "\n")
		var passed []string
		t, err := vm.ParseConsole(strings.NewReader(console), func(l string) { passed = append(passed, l) })
		Expect(err).NotTo(HaveOccurred())
		Expect(passed).To(ContainElement("partial output"))
		Expect(t.Step("tmpfs")).NotTo(BeNil())
		Expect(t.Step("tmpfs").Ended).To(BeFalse())
	})

	DescribeTable("damage is reported, never taken for a result",
		func(damage func(lines []string) []string, want string) {
			var lines []string // the events, without the blank lines between them
			for _, l := range strings.Split(guestSays(func(r *vm.Reporter) {
				_ = r.Begin("ext4")
				_ = r.End("ext4", 0, time.Second, "")
				_ = r.Blob("ext4", big)
				_ = r.Done()
			}), "\n") {
				if l != "" {
					lines = append(lines, l)
				}
			}
			Expect(lines[12]).To(ContainSubstring(`"ev":"data"`))
			t, err := vm.ParseConsole(strings.NewReader(strings.Join(damage(lines), "\n")), nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.Join(t.Errors, "\n")).To(ContainSubstring(want))
			Expect(t.Step("ext4").Blob).To(BeNil())
		},
		Entry("a lost data line", func(l []string) []string { return append(l[:12:12], l[13:]...) }, "console lines lost"),
		Entry("a garbled data line", func(l []string) []string {
			i := strings.Index(l[12], `"b":"`) + 5
			flip := byte('A')
			if l[12][i] == 'A' {
				flip = 'B'
			}
			l[12] = l[12][:i] + string(flip) + l[12][i+1:]
			return l
		}, "SHA-256 mismatch"),
		Entry("a cut event", func(l []string) []string {
			l[12] = l[12][:len(l[12])/2]
			return l
		}, "bad console event"),
		Entry("data with no blob", func(l []string) []string {
			var out []string
			for _, x := range l {
				if !strings.Contains(x, `"ev":"blob"`) {
					out = append(out, x)
				}
			}
			return out
		}, "outside its blob"),
	)

	It("reports the guest's own failure and an unfinished step", func() {
		t, err := vm.ParseConsole(strings.NewReader(guestSays(func(r *vm.Reporter) {
			_ = r.Begin("ext4")
			_ = r.Fail("mount /dev/vda (ext4) on /mnt/disk: no such device")
		})), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Failure).To(ContainSubstring("no such device"))
		Expect(t.Done).To(BeFalse())
		Expect(t.Step("ext4").Ended).To(BeFalse())
		Expect(t.Step("ext4").Code).To(Equal(-1))
	})

	It("reports a step killed after its timeout", func() {
		t, _ := vm.ParseConsole(strings.NewReader(guestSays(func(r *vm.Reporter) {
			_ = r.Begin("hang")
			_ = r.End("hang", -1, 3*time.Second, "timeout: killed after 3s")
		})), nil)
		Expect(t.Step("hang").Ended).To(BeTrue())
		Expect(t.Step("hang").Code).To(Equal(-1))
		Expect(t.Step("hang").Reason).To(ContainSubstring("timeout"))
	})

	It("reads lines of any length", func() {
		long := strings.Repeat("x", 200<<10)
		var got []string
		_, err := vm.ParseConsole(strings.NewReader(long+"\nend"), func(l string) { got = append(got, l) })
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(HaveLen(2))
		Expect(got[0]).To(HaveLen(200 << 10))
		Expect(got[1]).To(Equal("end"))
	})
})
