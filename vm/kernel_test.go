package vm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/vm"
)

// fakeModule returns a minimal ELF64 relocatable (what a .ko is) whose
// .modinfo section says name= and depends=.
func fakeModule(name, depends string) []byte {
	modinfo := []byte("license=GPL\x00depends=" + depends + "\x00name=" + name + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	dataOff := uint64(ehsize)
	strOff := dataOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	for _, v := range []any{uint16(1), uint16(183), uint32(1), uint64(0), uint64(0), shOff, uint32(0),
		uint16(ehsize), uint16(0), uint16(0), uint16(shentsize), uint16(3), uint16(2)} {
		_ = binary.Write(&b, le, v)
	}
	b.Write(modinfo)
	b.Write(shstr)
	for uint64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	section := func(name, typ uint32, flags, off, size uint64) {
		for _, v := range []any{name, typ, flags, uint64(0), off, size, uint32(0), uint32(0), uint64(1), uint64(0)} {
			_ = binary.Write(&b, le, v)
		}
	}
	section(0, 0, 0, 0, 0)
	section(1, 1, 2, dataOff, uint64(len(modinfo)))
	section(10, 3, 0, strOff, uint64(len(shstr)))
	return b.Bytes()
}

// fakeKernelDeb builds, with dpkg-deb, a kernel package shaped like
// Debian's: boot/vmlinuz-REL, boot/config-REL and modules with .modinfo.
func fakeKernelDeb(dir string, mods map[string]string) string {
	const rel = "6.1.0-99-cloud-arm64"
	root := filepath.Join(dir, "root")
	must := func(err error) { ExpectWithOffset(2, err).NotTo(HaveOccurred()) }
	put := func(p string, data []byte) {
		must(os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		must(os.WriteFile(filepath.Join(root, p), data, 0o644))
	}
	put("DEBIAN/control", []byte("Package: linux-image-"+rel+"\nVersion: 6.1.999-1\nArchitecture: arm64\n"+
		"Maintainer: test <test@example.invalid>\nDescription: fake kernel for tests\n"))
	put("boot/vmlinuz-"+rel, []byte("ARM64 Image"))
	put("boot/config-"+rel, []byte("CONFIG_EXT4_FS=y\n"))
	dirs := map[string]string{"virtio_blk": "kernel/drivers/block", "crc": "kernel/lib"}
	for name, deps := range mods {
		d, ok := dirs[name]
		if !ok {
			d = "kernel/drivers/virtio"
		}
		put(filepath.Join("lib/modules", rel, d, name+".ko"), fakeModule(name, deps))
	}
	return buildDeb(root, filepath.Join(dir, "linux-image-"+rel+"_6.1.999-1_arm64.deb"))
}

// fakeBusyboxDeb builds a busybox-static package (its version has an
// epoch, which apt-get download writes as %3a).
func fakeBusyboxDeb(dir string) string {
	root := filepath.Join(dir, "busybox-root")
	for p, data := range map[string]string{
		"DEBIAN/control": "Package: busybox-static\nVersion: 1:1.35.0-4\nArchitecture: arm64\n" +
			"Maintainer: test <test@example.invalid>\nDescription: fake busybox for tests\n",
		"bin/busybox": "static arm64 busybox",
	} {
		ExpectWithOffset(1, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)).To(Succeed())
		ExpectWithOffset(1, os.WriteFile(filepath.Join(root, p), []byte(data), 0o755)).To(Succeed())
	}
	return buildDeb(root, filepath.Join(dir, "busybox-static_1%3a1.35.0-4_arm64.deb"))
}

func buildDeb(root, deb string) string {
	out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb).CombinedOutput()
	ExpectWithOffset(2, err).NotTo(HaveOccurred(), string(out))
	return deb
}

// debianVirtio is the dependency graph of the Debian 6.1 cloud kernel.
var debianVirtio = map[string]string{
	"virtio_ring": "", "virtio": "virtio_ring", "virtio_mmio": "virtio,virtio_ring",
	"virtio_blk": "virtio,virtio_ring", "virtio_net": "virtio,virtio_ring",
}

// countingFetcher serves prebuilt .debs and counts the downloads.
type countingFetcher struct {
	deb, busybox string
	err          error
	calls        atomic.Int32
}

// newFetcher builds a kernel package with the modules mods, and a busybox.
func newFetcher(mods map[string]string) *countingFetcher {
	dir := GinkgoT().TempDir()
	return &countingFetcher{deb: fakeKernelDeb(dir, mods), busybox: fakeBusyboxDeb(dir)}
}

func (f *countingFetcher) Fetch(_ context.Context, _ vm.Arch, dir string) (string, string, error) {
	f.calls.Add(1)
	if f.err != nil {
		return "", "", f.err
	}
	var out []string
	for _, src := range []string{f.deb, f.busybox} {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", "", err
		}
		dst := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", "", err
		}
		out = append(out, dst)
	}
	return out[0], out[1], nil
}

var _ = Describe("the kernel cache", func() {
	BeforeEach(func() {
		needs.Program("dpkg", "dpkg-deb")
	})

	It("fetches once, keeps the Image, every module and the disk's load order, and never fetches again", func(ctx SpecContext) {
		f := newFetcher(debianVirtio)
		cache := GinkgoT().TempDir()
		k, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetched).To(BeTrue())
		Expect(k.Package).To(Equal("linux-image-6.1.0-99-cloud-arm64"))
		Expect(k.Version).To(Equal("6.1.999-1"))
		Expect(k.Release).To(Equal("6.1.0-99-cloud-arm64"))
		Expect(k.SHA256).To(HaveLen(64))
		Expect(k.Modules).To(Equal([]string{"virtio_ring.ko", "virtio.ko", "virtio_mmio.ko", "virtio_blk.ko"}))
		Expect(os.ReadFile(k.Image())).To(Equal([]byte("ARM64 Image")))
		Expect(os.ReadFile(k.Busybox())).To(Equal([]byte("static arm64 busybox")))
		Expect(k.Userland).To(Equal("busybox-static 1:1.35.0-4"))
		Expect(filepath.Join(k.ModuleDir(), "virtio_net.ko")).To(BeAnExistingFile(), "every module is kept, for runs that name more")
		order, err := k.ModuleOrder([]string{"virtio-net"})
		Expect(err).NotTo(HaveOccurred())
		Expect(order).To(Equal([]string{"virtio_ring.ko", "virtio.ko", "virtio_mmio.ko", "virtio_blk.ko", "virtio_net.ko"}))
		_, err = k.ModuleOrder([]string{"nfsd"})
		Expect(err).To(MatchError(ContainSubstring("module nfsd is not in the kernel package")))

		for range 3 {
			again, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
			Expect(err).NotTo(HaveOccurred())
			Expect(fetched).To(BeFalse())
			Expect(again).To(Equal(k))
		}
		Expect(f.calls.Load()).To(Equal(int32(1)))
		leftovers, _ := filepath.Glob(filepath.Join(cache, ".fetch-*"))
		Expect(leftovers).To(BeEmpty())
	})

	It("fetches again when the cached entry was damaged", func(ctx SpecContext) {
		f := newFetcher(debianVirtio)
		cache := GinkgoT().TempDir()
		k, _, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Remove(filepath.Join(k.ModuleDir(), "virtio_blk.ko"))).To(Succeed())
		_, ok := vm.CachedKernel(cache, vm.Arm64)
		Expect(ok).To(BeFalse())
		k2, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetched).To(BeTrue())
		Expect(filepath.Join(k2.ModuleDir(), "virtio_blk.ko")).To(BeAnExistingFile())
		Expect(f.calls.Load()).To(Equal(int32(2)))
	})

	It("fetches again over an entry of an older format (one that kept only the disk's modules)", func(ctx SpecContext) {
		f := newFetcher(debianVirtio)
		cache := GinkgoT().TempDir()
		k, _, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
		Expect(err).NotTo(HaveOccurred())
		entry := filepath.Join(k.Dir, "entry.json")
		b, err := os.ReadFile(entry)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(entry, []byte(strings.Replace(string(b), `"format": 3`, `"format": 2`, 1)), 0o644)).To(Succeed())
		_, fetched, err := vm.EnsureKernel(ctx, cache, vm.Arm64, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetched).To(BeTrue())
		Expect(f.calls.Load()).To(Equal(int32(2)))
	})

	DescribeTable("a package that cannot be used leaves the cache empty",
		func(mods map[string]string, fetchErr error, want string) {
			f := &countingFetcher{err: fetchErr}
			if fetchErr == nil {
				f = newFetcher(mods)
			}
			cache := GinkgoT().TempDir()
			_, _, err := vm.EnsureKernel(context.Background(), cache, vm.Arm64, f)
			Expect(err).To(MatchError(ContainSubstring(want)))
			ents, _ := os.ReadDir(cache)
			Expect(ents).To(BeEmpty())
		},
		Entry("the download fails", nil, errors.New("apt-get update: exit status 100: E: Failed to fetch"), "Failed to fetch"),
		Entry("a disk module is missing", map[string]string{"virtio_ring": "", "virtio": "virtio_ring", "virtio_mmio": "virtio"},
			nil, "module virtio_blk is not in the kernel package"),
		Entry("a dependency is missing", map[string]string{"virtio_mmio": "virtio", "virtio_blk": "virtio"},
			nil, "module virtio (needed by virtio_mmio) is not in the kernel package"),
		Entry("a dependency cycle", map[string]string{"virtio_mmio": "crc", "crc": "virtio_mmio", "virtio_blk": ""},
			nil, "module dependency cycle: virtio_mmio -> crc -> virtio_mmio"),
	)

	DescribeTable("DefaultCacheDir",
		func(vmCache, cache, want string) {
			GinkgoT().Setenv("MAPCHAOS_VM_CACHE", vmCache)
			GinkgoT().Setenv("MAPCHAOS_CACHE", cache)
			got := vm.DefaultCacheDir()
			if want == "" {
				Expect(got).To(HaveSuffix(filepath.Join("mapchaos", "vm")))
				Expect(filepath.IsAbs(got)).To(BeTrue())
				return
			}
			Expect(got).To(Equal(want))
		},
		Entry("$MAPCHAOS_VM_CACHE first", "/a/vm", "/b", "/a/vm"),
		Entry("then vm/ in $MAPCHAOS_CACHE", "", "/b", "/b/vm"),
		Entry("then the user's cache directory", "", "", ""),
	)
})

var _ = Describe("ModuleDepends", func() {
	It("reads depends= from .modinfo, and fails on what is not a module", func() {
		dir := GinkgoT().TempDir()
		p := filepath.Join(dir, "virtio_blk.ko")
		Expect(os.WriteFile(p, fakeModule("virtio_blk", "virtio,virtio_ring"), 0o644)).To(Succeed())
		Expect(vm.ModuleDepends(p)).To(Equal([]string{"virtio", "virtio_ring"}))
		Expect(os.WriteFile(p, fakeModule("virtio_ring", ""), 0o644)).To(Succeed())
		Expect(vm.ModuleDepends(p)).To(BeEmpty())
		Expect(os.WriteFile(p, []byte("not elf"), 0o644)).To(Succeed())
		_, err := vm.ModuleDepends(p)
		Expect(err).To(MatchError(ContainSubstring("virtio_blk.ko")))
	})
})

// Describe the real modules too, when a real kernel has been cached.
var _ = Describe("the cached Debian kernel, when there is one", func() {
	It("has the virtio disk modules in dependency order", func() {
		k, ok := vm.CachedKernel(vm.DefaultCacheDir(), vm.Arm64)
		if !ok {
			Skip("no arm64 kernel cached in " + vm.DefaultCacheDir())
		}
		Expect(k.Modules).To(Equal([]string{"virtio_ring.ko", "virtio.ko", "virtio_mmio.ko", "virtio_blk.ko"}), fmt.Sprint(k))
		Expect(strings.HasSuffix(k.Release, "arm64")).To(BeTrue())
	})
})
