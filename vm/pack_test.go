package vm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/vm"
)

var _ = Describe("Pack and Unpack (what a step sends back)", func() {
	It("round-trips files, directories and symlinks, relative to the base", func() {
		src := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(src, "out", "runs", "cp_x_mmap"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "out", "report.json"), []byte(`{"schema":"x"}`), 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "out", "runs", "cp_x_mmap", "timeline.log"), []byte("update 1\n"), 0o600)).To(Succeed())
		Expect(os.Symlink("report.json", filepath.Join(src, "out", "latest"))).To(Succeed())
		data, err := vm.Pack(filepath.Join(src, "out"), []string{filepath.Join(src, "out"), filepath.Join(src, "missing")})
		Expect(err).NotTo(HaveOccurred())

		dst := GinkgoT().TempDir()
		Expect(vm.Unpack(data, dst)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dst, "report.json"))).To(Equal([]byte(`{"schema":"x"}`)))
		Expect(os.ReadFile(filepath.Join(dst, "runs", "cp_x_mmap", "timeline.log"))).To(Equal([]byte("update 1\n")))
		Expect(os.Readlink(filepath.Join(dst, "latest"))).To(Equal("report.json"))
		Expect(filepath.Join(dst, vm.SkippedFile)).NotTo(BeAnExistingFile())
	})

	It("leaves out files too big for the console, and says which", func() {
		src := GinkgoT().TempDir()
		f, err := os.Create(filepath.Join(src, "db.mmdb"))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Truncate(vm.MaxPackedFile + 1)).To(Succeed())
		Expect(f.Close()).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "small"), []byte("s"), 0o644)).To(Succeed())
		data, err := vm.Pack(src, []string{src})
		Expect(err).NotTo(HaveOccurred())
		Expect(len(data)).To(BeNumerically("<", 4096))
		dst := GinkgoT().TempDir()
		Expect(vm.Unpack(data, dst)).To(Succeed())
		Expect(filepath.Join(dst, "db.mmdb")).NotTo(BeAnExistingFile())
		Expect(os.ReadFile(filepath.Join(dst, vm.SkippedFile))).To(ContainSubstring("db.mmdb (8388609 bytes)"))
		Expect(filepath.Join(dst, "small")).To(BeAnExistingFile())
	})

	DescribeTable("Unpack refuses entries that leave the directory",
		func(name string) {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			tw := tar.NewWriter(zw)
			Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})).To(Succeed())
			_, _ = tw.Write([]byte("x"))
			Expect(tw.Close()).To(Succeed())
			Expect(zw.Close()).To(Succeed())
			dst := GinkgoT().TempDir()
			Expect(vm.Unpack(b.Bytes(), filepath.Join(dst, "in"))).To(MatchError(ContainSubstring("leaves the directory")))
			Expect(filepath.Join(dst, "evil")).NotTo(BeAnExistingFile())
		},
		Entry("a parent path", "../evil"),
		Entry("an absolute path", "/evil"),
	)

	It("Unpack rejects what is not a gzipped tar", func() {
		Expect(vm.Unpack([]byte("not gzip"), GinkgoT().TempDir())).To(MatchError(ContainSubstring("unpack")))
	})
})
