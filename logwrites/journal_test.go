package logwrites_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/mounts"
)

// What logwrites makes is written down in a Journal (here a mounts.Set)
// before it is made, so that the Set's Close, and the next run's sweep
// after a SIGKILL, take it down. The dm-log-writes device itself needs
// device-mapper (the guest's spec in cmd/mapchaos); loop mounts and the
// loop devices of a failed Create are checked here.
var _ = Describe("journalling what a Device makes", Label("root"), func() {
	var set *mounts.Set
	var work string
	BeforeEach(func() {
		if os.Geteuid() != 0 {
			Skip("loop devices and mounts need root")
		}
		needs.Program("e2fsprogs", "mkfs.ext4")
		var err error
		set, _, err = mounts.Open(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		work = GinkgoT().TempDir()
	})

	It("MountFS journals a replay's loop image and its mount first: the set's Close takes down a mount left mounted", func(ctx SpecContext) {
		img, at := filepath.Join(work, "replay.img"), filepath.Join(work, "mnt")
		Expect(os.WriteFile(img, nil, 0o600)).To(Succeed())
		Expect(os.Truncate(img, 32<<20)).To(Succeed())
		Expect(exec.Command("mkfs.ext4", "-q", "-F", img).Run()).To(Succeed())
		Expect(os.MkdirAll(at, 0o755)).To(Succeed())
		Expect(logwrites.MountFS(ctx, set, "ext4", img, at, "loop")).To(Succeed())
		Expect(mounts.FSType(at)).To(Equal("ext4"))
		Expect(loopsUnder(work)).To(HaveLen(1))
		Expect(set.Close()).To(Succeed())
		Expect(mounts.FSType(at)).Error().To(HaveOccurred(), "unmounted by the set")
		Expect(loopsUnder(work)).To(BeEmpty())
	})

	It("a Create that fails (no device-mapper here, or no dm_log_writes) leaves no loop device", func(ctx SpecContext) {
		if logwrites.Available("ext4") == nil {
			Skip("this kernel has dm-log-writes: Create would succeed")
		}
		_, err := logwrites.Create(context.WithoutCancel(ctx), work, "mapchaos-lw-spec", 64<<20, set)
		Expect(err).To(HaveOccurred())
		Expect(loopsUnder(work)).To(BeEmpty())
		Expect(set.Close()).To(Succeed())
	})
})

// loopsUnder lists the loop devices whose backing file is under dir.
func loopsUnder(dir string) []string {
	var out []string
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(string(b), dir+"/") {
			out = append(out, f)
		}
	}
	return out
}
