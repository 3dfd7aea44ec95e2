package mounts_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/mounts"
)

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// containsField reports whether a mountinfo line mounts something at or
// under dir.
func containsField(line, dir string) bool {
	f := strings.Fields(line)
	return len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/"))
}

var mkfsOf = map[string][2]string{"ext4": {"e2fsprogs", "mkfs.ext4"}, "xfs": {"xfsprogs", "mkfs.xfs"}, "btrfs": {"btrfs-progs", "mkfs.btrfs"}}

var _ = Describe("a set of mounts", Label("fs", "root"), func() {
	var state, work string
	BeforeEach(func() {
		requireRoot()
		state, work = GinkgoT().TempDir(), GinkgoT().TempDir()
		DeferCleanup(func() { Expect(leftovers(state, work)).To(BeEmpty()) })
	})

	DescribeTable("makes a file system of the kind asked for, and Close takes it all down",
		func(kind string) {
			needs.Program(mkfsOf[kind][0], mkfsOf[kind][1])
			set, _, err := mounts.Open(state)
			Expect(err).NotTo(HaveOccurred())
			at := filepath.Join(work, "mnt")
			Expect(set.Image(context.Background(), kind, 1<<20, at)).To(Succeed())
			Expect(mounts.FSType(at)).To(Equal(kind))
			Expect(os.WriteFile(filepath.Join(at, "f"), []byte("x"), 0o644)).To(Succeed())
			Expect(leftovers(set.Dir)).To(ContainElement(ContainSubstring("loop device")))
			Expect(set.Close()).To(Succeed())
			Expect(leftovers(state, work)).To(BeEmpty())
			Expect(set.Dir).NotTo(BeADirectory())
			Expect(filepath.Join(at, "f")).NotTo(BeAnExistingFile())
			Expect(set.Close()).To(Succeed(), "a second Close does nothing")
		},
		Entry("ext4", "ext4"), Entry("xfs", "xfs"), Entry("btrfs", "btrfs"))

	It("mounts a tmpfs", func() {
		set, _, err := mounts.Open(state)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(set.Close)
		at := filepath.Join(work, "mnt")
		Expect(set.Tmpfs(4<<20, at)).To(Succeed())
		Expect(mounts.FSType(at)).To(Equal("tmpfs"))
		Expect(set.Unmount(at)).To(Succeed())
		Expect(mounts.FSType(at)).Error().To(MatchError(ContainSubstring("not a mount point")))
	})

	It("mounts an overlay whose lower layer is never written: a write copies the file up", func() {
		set, _, err := mounts.Open(state)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(set.Close)
		lower, at := filepath.Join(work, "lower"), filepath.Join(work, "merged")
		Expect(os.MkdirAll(lower, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(lower, "db"), []byte("A"), 0o644)).To(Succeed())
		Expect(set.Overlay(lower, "", at)).To(Succeed())
		Expect(mounts.FSType(at)).To(Equal("overlay"))
		before, err := os.Stat(filepath.Join(at, "db"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(at, "db"), []byte("B"), 0o644)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(at, "db"))).To(Equal([]byte("B")))
		Expect(os.ReadFile(filepath.Join(lower, "db"))).To(Equal([]byte("A")), "the lower layer is the image's: never changed")
		after, err := os.Stat(filepath.Join(at, "db"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.SameFile(before, after)).To(BeTrue(), "overlay keeps the inode number across the copy-up (xino/same fs)")
		Expect(set.Unmount(at)).To(Succeed())
		layers, _ := filepath.Glob(filepath.Join(set.Dir, "upper-*"))
		Expect(layers).To(BeEmpty(), "the upper layer goes with its mount")
	})

	It("refuses what it cannot make, naming it", func() {
		Expect(mounts.Valid("zfs")).To(MatchError(`file system "zfs": want one of ext4, xfs, btrfs, tmpfs, overlay`))
		set, _, err := mounts.Open(state)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(set.Close)
		Expect(set.Image(context.Background(), "tmpfs", 1<<20, filepath.Join(work, "x"))).To(MatchError(ContainSubstring("not an image file system")))
	})

	It("journals what another package makes (a loop image, a mount, a device-mapper name), and Close takes it down", func() {
		needs.Program("e2fsprogs", "mkfs.ext4")
		set, _, err := mounts.Open(state)
		Expect(err).NotTo(HaveOccurred())
		img, at := filepath.Join(work, "x.img"), filepath.Join(work, "x")
		Expect(os.WriteFile(img, nil, 0o600)).To(Succeed())
		Expect(os.Truncate(img, 32<<20)).To(Succeed())
		Expect(exec.Command("mkfs.ext4", "-q", "-F", img).Run()).To(Succeed())
		Expect(os.MkdirAll(at, 0o755)).To(Succeed())
		Expect(set.JournalDM("mapchaos-lw-x/y")).To(MatchError(ContainSubstring("want a name without tabs, newlines or slashes")))
		Expect(set.JournalDM("mapchaos-lw-never-made")).To(Succeed())
		Expect(set.JournalLoop(img)).To(Succeed())
		dev, err := exec.Command("losetup", "--find", "--show", img).Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(set.JournalMount(at)).To(Succeed())
		Expect(exec.Command("mount", strings.TrimSpace(string(dev)), at).Run()).To(Succeed())
		Expect(mounts.FSType(at)).To(Equal("ext4"))
		Expect(leftovers(work)).To(HaveLen(2), "the mount and the loop device")
		Expect(set.Close()).To(Succeed(), "a journalled device-mapper name that does not exist is no error")
		Expect(leftovers(state, work)).To(BeEmpty())
	})

	Describe("after a run was killed (SIGKILL)", func() {
		var helper *gexec.Session
		at := func() string { return filepath.Join(work, "dead") }
		BeforeEach(func() {
			needs.Program("e2fsprogs", "mkfs.ext4")
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"="+state, "MOUNTS_HELPER_AT="+at(), "MOUNTS_HELPER_JOURNAL=1")
			var err error
			helper, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(helper, "60s").Should(gbytes.Say("ready"))
		})

		It("leaves a live run's mounts alone", func() {
			swept, err := mounts.Sweep(state)
			Expect(err).NotTo(HaveOccurred())
			Expect(swept).To(BeEmpty())
			Expect(mounts.FSType(at() + "-ext4")).To(Equal("ext4"))
			helper.Signal(syscall.SIGKILL)
			Eventually(helper).Should(gexec.Exit())
			Expect(mounts.Sweep(state)).To(HaveLen(4), "three mounts and the image's loop device; mount -o loop's goes with its mount")
		})

		It("the next Open takes down exactly what the dead run made, and nothing else", func() {
			other := filepath.Join(work, "not-ours")
			Expect(os.MkdirAll(other, 0o755)).To(Succeed())
			Expect(syscall.Mount("tmpfs", other, "tmpfs", 0, "size=1m")).To(Succeed())
			DeferCleanup(func() { Expect(syscall.Unmount(other, 0)).To(Succeed()) })
			helper.Signal(syscall.SIGKILL)
			Eventually(helper).Should(gexec.Exit())
			Expect(leftovers(state)).To(ContainElement(ContainSubstring("loop device")), "a killed run cannot clean up itself")

			set, swept, err := mounts.Open(state)
			Expect(err).NotTo(HaveOccurred())
			Expect(set.Close()).To(Succeed())
			Expect(swept).To(Equal([]string{"unmounted " + at() + "-loop", "unmounted " + at() + "-tmpfs", "unmounted " + at() + "-ext4", swept[3]}), "newest first")
			Expect(swept[3]).To(HavePrefix("detached /dev/loop"))
			Expect(leftovers(state, at())).To(BeEmpty())
			Expect(mounts.FSType(other)).To(Equal("tmpfs"), "a mount the journal does not name is not ours")
			ents, _ := os.ReadDir(state)
			Expect(ents).To(BeEmpty())
		})
	})
})

var _ = Describe("Available", func() {
	It("names every kind it knows", func() {
		Expect(mounts.Kinds).To(Equal([]string{"ext4", "xfs", "btrfs", "tmpfs", "overlay"}))
		Expect(mounts.Available("nfs")).To(MatchError(ContainSubstring(`want one of`)))
	})
})
