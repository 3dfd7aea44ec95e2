package vm_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/vm"
)

// userlandScript is what a step runs with the guest's Debian userland: the
// shell, coreutils, util-linux, e2fsprogs, rsync, python3 with maxminddb
// and the NFS server's tools, each answering for itself.
const userlandScript = `set -eu
out=$1
{
  echo "sh=$(readlink -f /bin/sh)"
  echo "cp=$(cp --version | head -n1)"
  echo "rsync=$(rsync --version | head -n1)"
  echo "mkfs=$(mke2fs -V 2>&1 | head -n1)"
  echo "mount=$(mount --version)"
  echo "python=$(python3 -c 'import maxminddb, maxminddb.extension, platform; print(platform.machine(), maxminddb.__version__)')"
  echo "nfsd=$(ls /usr/sbin/rpc.nfsd /usr/sbin/exportfs /usr/sbin/rpc.mountd /sbin/mount.nfs | tr '\n' ' ')"
  echo "uname=$(uname -m)"
  echo "whoami=$(id -un)"
} > "$out"
echo hi > /mnt/disk/w/copy-src && cp /mnt/disk/w/copy-src /mnt/disk/w/copy-dst
if touch /usr/bin/x 2>/dev/null; then echo "root=writable" >> "$out"; else echo "root=read-only" >> "$out"; fi
`

// bootUserland boots arch's kernel with the Debian root and runs
// userlandScript; it returns the lines the script wrote.
func bootUserland(ctx SpecContext, arch vm.Arch) map[string]string {
	if _, err := arch.FindQemu(); err != nil {
		needs.Missing(err.Error(), arch.QemuPackage)
	}
	start := time.Now()
	host, err := vm.Setup(ctx, ".", vm.DefaultCacheDir(), vm.Want{Arch: arch, Root: true}, vm.Apt{Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry(arch.Name+" kernel and root ready", time.Since(start).Round(time.Millisecond).String())
	work := GinkgoT().TempDir()
	Expect(host.Source.Build(ctx, vm.GuestInitPackage, filepath.Join(work, "init"))).To(Succeed())
	disk := filepath.Join(work, "disk")
	Expect(os.MkdirAll(filepath.Join(disk, "w"), 0o755)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(disk, "w", "check.sh"), []byte(userlandScript), 0o755)).To(Succeed())
	g := vm.Guest{Kernel: host.Kernel, Root: host.Root.Image(), Init: filepath.Join(work, "init"), DiskDir: disk, DiskFreeMiB: 16, Work: work,
		Plan: vm.Plan{Steps: []vm.Step{{Name: "userland", Argv: []string{"/bin/sh", vm.GuestDisk + "/w/check.sh", vm.GuestDisk + "/w/out.txt"},
			Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}, Dir: vm.GuestDisk + "/w", Timeout: vm.Duration(2 * time.Minute),
			Collect: []string{vm.GuestDisk + "/w/out.txt", vm.GuestDisk + "/w/copy-dst"}}}},
		Machine: vm.Machine{Arch: arch, Qemu: host.Qemu, MemMiB: 512, Timeout: 3 * time.Minute,
			Pass: func(l string) { GinkgoWriter.Println("guest |", l) }}}
	out, err := g.Boot(ctx)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry(arch.Name+" boot", out.Boot.Round(time.Millisecond).String())
	AddReportEntry(arch.Name+" boot to result", out.Elapsed.Round(time.Millisecond).String())
	Expect(out.Transcript.Info).To(HaveKeyWithValue("goarch", arch.Name))
	Expect(out.Transcript.Info).To(HaveKeyWithValue("userland", "debian"))
	s := out.Transcript.Step("userland")
	Expect(s).NotTo(BeNil())
	Expect(s.Code).To(Equal(0), "the script failed in the guest (its output is in the GinkgoWriter)")
	dst := GinkgoT().TempDir()
	Expect(vm.Unpack(s.Blob, dst)).To(Succeed())
	Expect(os.ReadFile(filepath.Join(dst, "copy-dst"))).To(Equal([]byte("hi\n")))
	b, err := os.ReadFile(filepath.Join(dst, "out.txt"))
	Expect(err).NotTo(HaveOccurred())
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	got["page_size"] = out.Transcript.Info["page_size"]
	Expect(proctest.Mentioning(work)).To(BeEmpty())
	return got
}

var _ = Describe("the guest's Debian userland", Serial, Label("qemu"), func() {
	DescribeTable("steps exec real Debian binaries of the guest's architecture",
		func(ctx SpecContext, arch vm.Arch, machine string) {
			got := bootUserland(ctx, arch)
			Expect(got).To(HaveKeyWithValue("sh", "/usr/bin/dash"))
			Expect(got["cp"]).To(HavePrefix("cp (GNU coreutils)"))
			Expect(got["rsync"]).To(HavePrefix("rsync  version"))
			Expect(got["mkfs"]).To(HavePrefix("mke2fs"))
			Expect(got["mount"]).To(ContainSubstring("util-linux"))
			Expect(got["python"]).To(HavePrefix(machine + " "))
			Expect(strings.Fields(got["nfsd"])).To(HaveLen(4))
			Expect(got).To(HaveKeyWithValue("uname", machine))
			Expect(got).To(HaveKeyWithValue("whoami", "root"))
			Expect(got).To(HaveKeyWithValue("root", "read-only"))
			Expect(got).To(HaveKeyWithValue("page_size", strconv.Itoa(arch.Pages())))
		},
		Entry("arm64 (qemu-system-aarch64)", vm.Arm64, "aarch64", SpecTimeout(10*time.Minute)),
		Entry("arm64 with 16 KiB pages (linux-image-arm64-16k, -cpu max)", vm.Arm64Pages16K, "aarch64", SpecTimeout(10*time.Minute)),
		Entry("amd64 (qemu-system-x86_64, TCG)", vm.Amd64, "x86_64", SpecTimeout(10*time.Minute)),
	)
})
