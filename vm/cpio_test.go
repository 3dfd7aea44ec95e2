package vm_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/vm"
)

// names lists the entries of an archive as "name mode".
func names(es []vm.CPIOEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

var _ = Describe("CPIO (newc, the initramfs format)", func() {
	It("writes the exact newc header, name and padding the kernel expects", func() {
		var b bytes.Buffer
		c := vm.NewCPIO(&b)
		Expect(c.File("init", 0o755, []byte("hello"))).To(Succeed())
		Expect(c.Close()).To(Succeed())
		// ino 1, mode 0100755, uid 0, gid 0, nlink 1, mtime 0, size 5,
		// devmajor/minor 0, rdevmajor/minor 0, namesize 5 ("init\0"), check 0.
		want := "070701" + "00000001" + "000081ed" + "00000000" + "00000000" + "00000001" + "00000000" +
			"00000005" + "00000000" + "00000000" + "00000000" + "00000000" + "00000005" + "00000000" +
			"init\x00" + "\x00" + // 110+5 = 115 bytes, padded to 116
			"hello" + "\x00\x00\x00" // 5 bytes, padded to 8
		Expect(b.String()[:len(want)]).To(Equal(want))
		rest := b.String()[len(want):]
		Expect(rest).To(HavePrefix("070701"))
		Expect(rest).To(ContainSubstring("TRAILER!!!\x00"))
		Expect(b.Len() % 4).To(Equal(0))
	})

	DescribeTable("round trip through ReadCPIO",
		func(fill func(c *vm.CPIO) error, want []string, check func(es []vm.CPIOEntry)) {
			var b bytes.Buffer
			c := vm.NewCPIO(&b)
			Expect(fill(c)).To(Succeed())
			Expect(c.Close()).To(Succeed())
			es, err := vm.ReadCPIO(&b)
			Expect(err).NotTo(HaveOccurred())
			Expect(names(es)).To(Equal(want))
			if check != nil {
				check(es)
			}
		},
		Entry("parents come before their files, once each", func(c *vm.CPIO) error {
			return errors.Join(c.File("/mapchaos/modules/a.ko", 0o644, []byte("a")),
				c.File("mapchaos/modules/b.ko", 0o644, []byte("bb")), c.File("mapchaos/plan.json", 0o644, nil))
		}, []string{"mapchaos", "mapchaos/modules", "mapchaos/modules/a.ko", "mapchaos/modules/b.ko", "mapchaos/plan.json"},
			func(es []vm.CPIOEntry) {
				Expect(es[0].IsDir()).To(BeTrue())
				Expect(es[3].IsRegular()).To(BeTrue())
				Expect(es[3].Data).To(Equal([]byte("bb")))
				Expect(es[4].Data).To(BeEmpty())
			}),
		Entry("every data length pads to 4 bytes", func(c *vm.CPIO) error {
			var errs []error
			for i := range 9 {
				errs = append(errs, c.File("f"+strings.Repeat("x", i), 0o600, bytes.Repeat([]byte{byte('a' + i)}, i)))
			}
			return errors.Join(errs...)
		}, []string{"f", "fx", "fxx", "fxxx", "fxxxx", "fxxxxx", "fxxxxxx", "fxxxxxxx", "fxxxxxxxx"},
			func(es []vm.CPIOEntry) {
				for i, e := range es {
					Expect(e.Data).To(Equal(bytes.Repeat([]byte{byte('a' + i)}, i)))
					Expect(e.Mode).To(Equal(uint32(0o100600)))
				}
			}),
		Entry("a character device, a symlink, a directory", func(c *vm.CPIO) error {
			return errors.Join(c.CharDev("dev/console", 0o600, 5, 1), c.Symlink("bin/sh", "/init"), c.Mkdir("proc"))
		}, []string{"dev", "dev/console", "bin", "bin/sh", "proc"},
			func(es []vm.CPIOEntry) {
				Expect(es[1].Mode).To(Equal(uint32(0o020600)))
				Expect([]uint32{es[1].RMajor, es[1].RMinor}).To(Equal([]uint32{5, 1}))
				Expect(es[3].IsSymlink()).To(BeTrue())
				Expect(string(es[3].Data)).To(Equal("/init"))
			}),
		Entry("inode numbers are unique and the output reproducible", func(c *vm.CPIO) error {
			return errors.Join(c.File("a", 0o644, []byte("1")), c.File("b", 0o644, []byte("2")))
		}, []string{"a", "b"}, func(es []vm.CPIOEntry) {
			Expect(es[0].Inode).NotTo(Equal(es[1].Inode))
			Expect(es[0].MTime).To(BeZero())
		}),
	)

	DescribeTable("refuses bad names",
		func(name string) {
			c := vm.NewCPIO(&bytes.Buffer{})
			Expect(c.File(name, 0o644, nil)).To(MatchError(ContainSubstring("bad entry name")))
		},
		Entry("parent", "../etc/passwd"),
		Entry("root", "/"),
		Entry("dot", "."),
	)

	It("refuses writes after Close and reports the writer's error", func() {
		c := vm.NewCPIO(&bytes.Buffer{})
		Expect(c.Close()).To(Succeed())
		Expect(c.File("x", 0o644, nil)).To(MatchError(ContainSubstring("after Close")))
		bad := vm.NewCPIO(failWriter{})
		Expect(bad.File("x", 0o644, nil)).To(MatchError(ContainSubstring("disk full")))
		Expect(bad.Close()).To(MatchError(ContainSubstring("disk full")))
	})

	It("Initramfs gzips the archive", func() {
		var b bytes.Buffer
		Expect(vm.Initramfs(&b, func(c *vm.CPIO) error { return c.File("init", 0o755, []byte("#!")) })).To(Succeed())
		zr, err := gzip.NewReader(&b)
		Expect(err).NotTo(HaveOccurred())
		es, err := vm.ReadCPIO(zr)
		Expect(err).NotTo(HaveOccurred())
		Expect(names(es)).To(Equal([]string{"init"}))
	})

	It("ReadCPIO rejects what is not newc", func() {
		_, err := vm.ReadCPIO(strings.NewReader(strings.Repeat("0", 110)))
		Expect(err).To(MatchError(ContainSubstring("magic")))
		_, err = vm.ReadCPIO(strings.NewReader("0707"))
		Expect(err).To(HaveOccurred())
	})
})

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
