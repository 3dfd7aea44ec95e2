package vm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/vm"
)

var _ = Describe("page sizes", func() {
	DescribeTable("ParsePageSize",
		func(in string, want int, wantErr string) {
			got, err := vm.ParsePageSize(in)
			if wantErr != "" {
				Expect(err).To(MatchError(ContainSubstring(wantErr)))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("4k", "4k", 4096, ""),
		Entry("16K", "16K", 16384, ""),
		Entry("bytes", "16384", 16384, ""),
		Entry("64k parses (WithPageSize refuses it)", "64k", 65536, ""),
		Entry("not a power of two", "12k", 0, `page size "12k": want 4k or 16k`),
		Entry("too small", "1k", 0, "at least 4096 bytes"),
		Entry("words", "huge", 0, `page size "huge"`),
		Entry("empty", "", 0, `page size ""`),
	)

	It("gives each guest the kernels it has, and says what 64 KiB would need", func() {
		Expect(vm.Arm64.WithPageSize(4096)).To(Equal(vm.Arm64))
		a, err := vm.Arm64.WithPageSize(16384)
		Expect(err).NotTo(HaveOccurred())
		Expect(a).To(Equal(vm.Arm64Pages16K))
		Expect(a.KernelMeta).To(Equal("linux-image-arm64-16k"))
		Expect(a.CPU).To(HavePrefix("max"), "cortex-a72 has no 16K granule")
		Expect(a.Key()).To(Equal("arm64-16k"))
		Expect(vm.Arm64.Key()).To(Equal("arm64"))
		Expect(vm.Amd64.Key()).To(Equal("amd64"))
		Expect(a.Describe(2, 1536)).To(Equal("qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -smp 2 -m 1536 (TCG), 16 KiB pages"))

		_, err = vm.Arm64.WithPageSize(65536)
		Expect(err).To(MatchError(ContainSubstring("the arm64 guest has no kernel with 64k pages: it offers 4k and 16k")))
		Expect(err).To(MatchError(ContainSubstring("CONFIG_ARM64_64K_PAGES")))
		_, err = vm.Amd64.WithPageSize(16384)
		Expect(err).To(MatchError("the amd64 guest has no kernel with 16k pages: it offers 4k"))
	})
})

// fake16KDeb builds a kernel package shaped like Debian's 6.12
// linux-image-arm64-16k: modules compressed as .ko.xz, and a config that
// says which page size it was built for.
func fake16KDeb(dir, pagesConfig string) string {
	const rel = "6.12.99+deb12-arm64-16k"
	root := filepath.Join(dir, "root16k")
	put := func(p string, data []byte) {
		ExpectWithOffset(2, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)).To(Succeed())
		ExpectWithOffset(2, os.WriteFile(filepath.Join(root, p), data, 0o644)).To(Succeed())
	}
	put("DEBIAN/control", []byte("Package: linux-image-"+rel+"\nVersion: 6.12.99-1~bpo12+1\nArchitecture: arm64\n"+
		"Maintainer: test <test@example.invalid>\nDescription: fake 16k kernel for tests\n"))
	put("boot/vmlinuz-"+rel, []byte("ARM64 16K Image"))
	put("boot/config-"+rel, []byte("CONFIG_EXT4_FS=m\n"+pagesConfig+"\nCONFIG_MODULE_COMPRESS_XZ=y\n"))
	mods := map[string]string{"virtio_mmio": "", "virtio_blk": "", "crc32c_generic": "", "crc16": "",
		"mbcache": "", "jbd2": "", "ext4": "mbcache,jbd2,crc16", "loop": ""}
	for name, deps := range mods {
		p := filepath.Join(root, "lib/modules", rel, "kernel", name+".ko")
		put(filepath.Join("lib/modules", rel, "kernel", name+".ko"), fakeModule(name, deps))
		out, err := exec.Command("xz", "--", p).CombinedOutput()
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), string(out))
	}
	return buildDeb(root, filepath.Join(dir, "linux-image-"+rel+"_6.12.99-1~bpo12+1_arm64.deb"))
}

var _ = Describe("the 16 KiB-page kernel in the cache", func() {
	BeforeEach(func() {
		needs.Program("dpkg", "dpkg-deb")
		needs.Program("xz-utils", "xz")
	})

	It("decompresses its .ko.xz modules, and lives beside the 4 KiB kernel", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		f16 := &countingFetcher{deb: fake16KDeb(dir, "CONFIG_ARM64_16K_PAGES=y"), busybox: fakeBusyboxDeb(dir)}
		f4 := newFetcher(debianVirtio)
		cache := GinkgoT().TempDir()
		k16, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64Pages16K, f16)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetched).To(BeTrue())
		Expect(k16.Pages()).To(Equal(16384))
		Expect(k16.Modules).To(Equal([]string{"virtio_mmio.ko", "virtio_blk.ko", "crc32c_generic.ko", "crc16.ko", "jbd2.ko", "mbcache.ko", "ext4.ko"}))
		Expect(vm.ModuleDepends(filepath.Join(k16.ModuleDir(), "ext4.ko"))).To(Equal([]string{"mbcache", "jbd2", "crc16"}), "a plain ELF module, decompressed")
		Expect(filepath.Join(k16.ModuleDir(), "loop.ko")).To(BeAnExistingFile(), "every module is kept, decompressed")
		xzs, _ := filepath.Glob(filepath.Join(k16.ModuleDir(), "*.xz"))
		Expect(xzs).To(BeEmpty())

		k4, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f4)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetched).To(BeTrue())
		Expect(k4.Pages()).To(Equal(4096))
		Expect(k4.Dir).NotTo(Equal(k16.Dir))
		Expect(filepath.Join(cache, "kernel.json")).To(BeAnExistingFile())
		Expect(filepath.Join(cache, "kernel-arm64-16k.json")).To(BeAnExistingFile())

		again16, ok := vm.CachedKernel(cache, vm.Arm64Pages16K)
		Expect(ok).To(BeTrue())
		Expect(again16).To(Equal(k16))
		again4, ok := vm.CachedKernel(cache, vm.Arm64)
		Expect(ok).To(BeTrue())
		Expect(again4).To(Equal(k4))
		Expect(f16.calls.Load()).To(Equal(int32(1)))
		Expect(f4.calls.Load()).To(Equal(int32(1)))
	})

	It("refuses a package that is not built for 16 KiB pages, and caches nothing", func() {
		dir := GinkgoT().TempDir()
		f := &countingFetcher{deb: fake16KDeb(dir, "CONFIG_ARM64_4K_PAGES=y"), busybox: fakeBusyboxDeb(dir)}
		cache := GinkgoT().TempDir()
		_, _, err := vm.EnsureKernel(context.Background(), cache, vm.Arm64Pages16K, f)
		Expect(err).To(MatchError(ContainSubstring("is not built for 16k pages (its config lacks CONFIG_ARM64_16K_PAGES=y)")))
		ents, _ := os.ReadDir(cache)
		Expect(ents).To(BeEmpty())
	})
})
