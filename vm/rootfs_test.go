package vm_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/vm"
)

// fakePackage builds a .deb of arch holding files (path -> content).
func fakePackage(dir, name, arch string, files map[string]string) string {
	root := filepath.Join(dir, name+"-root")
	files["DEBIAN/control"] = "Package: " + name + "\nVersion: 1.0-1\nArchitecture: " + arch +
		"\nMaintainer: test <test@example.invalid>\nDescription: fake package for tests\n"
	for p, data := range files {
		ExpectWithOffset(1, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)).To(Succeed())
		ExpectWithOffset(1, os.WriteFile(filepath.Join(root, p), []byte(data), 0o755)).To(Succeed())
	}
	return buildDeb(root, filepath.Join(dir, name+"_1.0-1_"+arch+".deb"))
}

// packageFetcher serves prebuilt .debs and counts the downloads.
type packageFetcher struct {
	debs  []string
	err   error
	calls atomic.Int32
}

func (f *packageFetcher) FetchPackages(_ context.Context, _ vm.Arch, dir string, _ []string) ([]string, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	var out []string
	for _, src := range f.debs {
		dst := filepath.Join(dir, filepath.Base(src))
		Expect(os.Link(src, dst)).To(Succeed())
		out = append(out, dst)
	}
	return out, nil
}

// imageFile reads a file of an ext4 image with debugfs (e2fsprogs).
func imageFile(img, path string) string {
	out, err := exec.Command("debugfs", "-R", "cat "+path, img).Output()
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return string(out)
}

// imageStat is debugfs's stat of path in img.
func imageStat(img, path string) string {
	out, _ := exec.Command("debugfs", "-R", "stat "+path, img).CombinedOutput()
	return string(out)
}

var _ = Describe("the root cache", func() {
	var cache string
	var f *packageFetcher
	BeforeEach(func() {
		cache = GinkgoT().TempDir()
		dir := GinkgoT().TempDir()
		f = &packageFetcher{debs: []string{
			fakePackage(dir, "dash", "arm64", map[string]string{"bin/dash": "dash", "usr/share/doc/dash/copyright": "x"}),
			fakePackage(dir, "coreutils", "arm64", map[string]string{"bin/cp": "cp", "usr/bin/env": "env"}),
			fakePackage(dir, "libc6", "arm64", map[string]string{"lib/aarch64-linux-gnu/libc.so.6": "libc", "lib/ld-linux-aarch64.so.1": "ld"}),
			fakePackage(dir, "base-passwd", "all", map[string]string{"usr/share/base-passwd/passwd.master": "root:x:0:0:root:/root:/bin/sh\n",
				"usr/share/base-passwd/group.master": "root:x:0:\n"}),
		}}
	})

	It("builds the image once from the packages, merged into /usr, with passwd and the mount points, and never fetches again", func(ctx SpecContext) {
		r, built, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"dash", "coreutils"}, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(built).To(BeTrue())
		Expect(r.Packages).To(ConsistOf("dash 1.0-1", "coreutils 1.0-1", "libc6 1.0-1", "base-passwd 1.0-1"))
		img := r.Image()
		Expect(imageFile(img, "/usr/bin/dash")).To(Equal("dash"))
		Expect(imageFile(img, "/usr/bin/cp")).To(Equal("cp"))
		Expect(imageFile(img, "/usr/lib/ld-linux-aarch64.so.1")).To(Equal("ld"))
		Expect(imageStat(img, "/bin")).To(ContainSubstring(`Fast link dest: "usr/bin"`))
		Expect(imageStat(img, "/lib")).To(ContainSubstring(`Fast link dest: "usr/lib"`))
		Expect(imageFile(img, "/etc/passwd")).To(HavePrefix("root:x:0:0"))
		Expect(imageStat(img, "/usr/share/doc")).To(ContainSubstring("File not found"))
		for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/root", vm.GuestDisk, vm.GuestTmpfs} {
			Expect(imageStat(img, d)).To(ContainSubstring("Type: directory"), d)
		}

		again, built, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"coreutils", "dash"}, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(built).To(BeFalse(), "the same packages in another order are the same entry")
		Expect(again.Dir).To(Equal(r.Dir))
		Expect(f.calls.Load()).To(Equal(int32(1)))

		_, ok := vm.CachedRootfs(cache, vm.Amd64, []string{"dash", "coreutils"})
		Expect(ok).To(BeFalse(), "another architecture is another entry")
		_, ok = vm.CachedRootfs(cache, vm.Arm64, []string{"dash"})
		Expect(ok).To(BeFalse(), "another package list is another entry")
	})

	DescribeTable("a build that cannot finish leaves the cache without an entry or a temporary directory",
		func(ctx SpecContext, breakIt func(), want string) {
			breakIt()
			_, _, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"dash"}, f)
			Expect(err).To(MatchError(ContainSubstring(want)))
			ents, _ := os.ReadDir(cache)
			Expect(ents).To(BeEmpty())
			_, ok := vm.CachedRootfs(cache, vm.Arm64, []string{"dash"})
			Expect(ok).To(BeFalse())
		},
		Entry("the download fails", func() { f.err = errors.New("apt-get: Unable to locate package dash") }, "Unable to locate package dash"),
		Entry("a package of another architecture", func() {
			f.debs = append(f.debs, fakePackage(GinkgoT().TempDir(), "bash", "amd64", map[string]string{"bin/bash": "bash"}))
		}, "not a Debian package of arm64"),
		Entry("a damaged package", func() {
			bad := filepath.Join(GinkgoT().TempDir(), "broken_1.0_arm64.deb")
			Expect(os.WriteFile(bad, []byte("not an ar archive"), 0o644)).To(Succeed())
			f.debs = append(f.debs, bad)
		}, "dpkg-deb -x broken_1.0_arm64.deb"),
	)

	It("replaces an entry whose image was removed", func(ctx SpecContext) {
		r, _, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"dash"}, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Remove(r.Image())).To(Succeed())
		r2, built, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"dash"}, f)
		Expect(err).NotTo(HaveOccurred())
		Expect(built).To(BeTrue())
		Expect(r2.Image()).To(BeARegularFile())
	})
})

// The real mirror, through the host's apt configuration.
var _ = Describe("fetching the root's packages with apt", Label("qemu"), func() {
	It("names a package the mirror does not have, and caches nothing", func(ctx SpecContext) {
		cache := GinkgoT().TempDir()
		_, _, err := vm.EnsureRootfs(ctx, cache, vm.Arm64, []string{"coreutils", "mapchaos-no-such-package"}, vm.Apt{Log: GinkgoWriter})
		Expect(err).To(MatchError(ContainSubstring("package mapchaos-no-such-package is not on the configured Debian mirror for arm64")))
		ents, _ := os.ReadDir(cache)
		Expect(ents).To(BeEmpty())
		Expect(strings.Count(err.Error(), "\n")).To(BeNumerically("<", 10), "a short message")
	}, SpecTimeout(3*time.Minute))
})
