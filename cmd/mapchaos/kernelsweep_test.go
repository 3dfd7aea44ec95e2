package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/vm"
)

// sweepWork is the guest's working directory of the sweep spec.
const sweepWork = vm.GuestDisk + "/w"

// sweepMatrix is the kernel check the spec kills and then runs again.
const sweepMatrix = "mapchaos matrix --arch native --mode power-loss --kernel-check --config ginkgo.yml --writers rename --readers mmap --updates 1 --seed 7"

// sweepList prints, as the guest sees them, the device-mapper devices,
// the loop devices and the mounts of the runs, into $1.
const sweepList = `{ echo "== dmsetup"; dmsetup ls; echo "== losetup"; losetup -a; echo "== mounts"; grep -e mapchaos -e ` + sweepWork + `/out /proc/mounts; echo "== end"; } > "$1"; cat "$1"`

// sweepSteps are the guest's steps: a kill run (SIGKILL once a line of
// /proc/mounts matches the grep pattern mounted: stopped first, and
// killed only if it still matches then, as a replay's mount is brief; a
// run that ends before the poll saw such a mount is run again, up to six
// times; a foreign device of the same prefix beside it), a listing, a
// second run to its end, a listing.
func sweepSteps(mounted string) []vm.Step {
	kill := `set -u
dmsetup create mapchaos-lw-foreign --table '0 8 error' || exit 3
n=0
while :; do
  n=$((n+1))
  ` + sweepMatrix + ` --out out1-$n > run1.log 2>&1 &
  pid=$!
  i=0
  while :; do
    if grep -q '` + mounted + `' /proc/mounts; then
      kill -STOP $pid
      grep -q '` + mounted + `' /proc/mounts && break 2
      kill -CONT $pid
    fi
    kill -0 $pid 2>/dev/null || break
    i=$((i+1)); [ $i -lt 12000 ] || { echo "nothing matched ` + mounted + ` in /proc/mounts after 10 minutes"; exit 5; }
    sleep 0.05
  done
  wait $pid
  echo "run $n of mapchaos ended before anything matched ` + mounted + ` in /proc/mounts"
  [ $n -lt 6 ] || { cat run1.log; exit 4; }
done
kill -9 $pid
wait $pid
echo "killed mapchaos $pid in run $n (wait: $?)"
`
	second := sweepMatrix + ` --out out2 > run2.log 2>&1; code=$?; cat run2.log; exit $code`
	env := []string{"HOME=/root", "TMPDIR=/tmp", "PATH=" + vm.GuestDisk + "/bin:" + vm.GuestPath}
	step := func(name, script string, timeout time.Duration, collect ...string) vm.Step {
		return vm.Step{Name: name, Argv: []string{"/bin/sh", "-c", script, "sh", sweepWork + "/" + name + ".txt"}, Env: env, Dir: sweepWork,
			Timeout: vm.Duration(timeout), Collect: collect}
	}
	return []vm.Step{
		step("kill", kill, 12*time.Minute, sweepWork+"/run1.log"),
		step("before", sweepList, time.Minute, sweepWork+"/before.txt"),
		step("again", second, 15*time.Minute, sweepWork+"/run2.log"),
		step("after", sweepList+`; dmsetup remove mapchaos-lw-foreign`, time.Minute, sweepWork+"/after.txt"),
	}
}

// bootSweep boots the amd64 guest with sweepSteps(mounted) and returns
// what each step sent back, by step name.
func bootSweep(ctx SpecContext, mounted string) map[string]string {
	GinkgoHelper()
	needs.Program("qemu-system-x86", "qemu-system-x86_64")
	start := time.Now()
	host, err := vm.Setup(ctx, ".", vm.DefaultCacheDir(), vm.Want{Arch: vm.Amd64, Root: true}, vm.Apt{Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	work := GinkgoT().TempDir()
	disk := filepath.Join(work, "disk")
	Expect(os.MkdirAll(filepath.Join(disk, "w"), 0o755)).To(Succeed())
	writeConfig(filepath.Join(disk, "w"), "fixture: {size: 1MiB}\n")
	Expect(host.Source.Build(ctx, vm.GuestInitPackage, filepath.Join(work, "init"))).To(Succeed())
	Expect(host.Source.Build(ctx, "./cmd/mapchaos", filepath.Join(disk, "bin", "mapchaos"))).To(Succeed())
	g := vm.Guest{Kernel: host.Kernel, Root: host.Root.Image(), Init: filepath.Join(work, "init"), DiskDir: disk, DiskFreeMiB: 768, Work: work,
		Plan: vm.Plan{Steps: sweepSteps(mounted)}, Modules: []string{"loop", "dm_mod", "dm_log_writes"},
		Machine: vm.Machine{Arch: vm.Amd64, Qemu: host.Qemu, MemMiB: 1536, CPUs: 2, Timeout: 30 * time.Minute,
			Pass: func(l string) { GinkgoWriter.Println("guest |", l) }}}
	out, err := g.Boot(ctx)
	Expect(err).NotTo(HaveOccurred())
	got := map[string]string{}
	for _, name := range []string{"kill", "before", "again", "after"} {
		s := out.Transcript.Step(name)
		Expect(s).NotTo(BeNil(), "step %s never ran", name)
		Expect(s.Ended).To(BeTrue(), "step %s never ended", name)
		Expect(s.Code).To(Equal(0), "step %s failed (its output is in the GinkgoWriter)", name)
		dst := GinkgoT().TempDir()
		Expect(vm.Unpack(s.Blob, dst)).To(Succeed())
		files, _ := filepath.Glob(filepath.Join(dst, "*"))
		Expect(files).To(HaveLen(1), "step %s sent back %v", name, files)
		b, err := os.ReadFile(files[0])
		Expect(err).NotTo(HaveOccurred())
		got[name] = string(b)
		AddReportEntry("step "+name, s.Duration.Round(time.Second).String())
	}
	AddReportEntry("boot to result", out.Elapsed.Round(time.Second).String())
	AddReportEntry("whole spec", time.Since(start).Round(time.Second).String())
	return got
}

// expectNoneLeft checks the listing after the second run: no dm-log-writes
// device, loop device or mount of either run, the foreign device still
// there.
func expectNoneLeft(after string) {
	GinkgoHelper()
	Expect(section(after, "dmsetup")).NotTo(MatchRegexp(`mapchaos-lw-\d`), "no dm-log-writes device of either run")
	Expect(section(after, "dmsetup")).To(ContainSubstring("mapchaos-lw-foreign"), "a device the runs did not make stays")
	Expect(section(after, "losetup")).NotTo(ContainSubstring(sweepWork + "/out"))
	Expect(section(after, "mounts")).To(BeEmpty())
}

// After a kernel check is killed (SIGKILL), its dm-log-writes device,
// the loop devices under it and its mount stay, or, killed while it
// replays the log, the replay's mount and loop device; the next kernel
// check's sweep takes down exactly those, and leaves a device-mapper
// device it did not make alone, even one whose name looks like its own.
var _ = Describe("mapchaos matrix --mode power-loss --kernel-check after a SIGKILL", Serial, Label("amd64", "qemu", "kernel-check"), func() {
	It("the next run takes down the dm-log-writes device, its loop devices and its mount the killed run left, and nothing else", func(ctx SpecContext) {
		got := bootSweep(ctx, "^/dev/mapper/mapchaos-lw-")
		before := got["before"]
		left := regexp.MustCompile(`mapchaos-lw-\d+-\d+`).FindString(before)
		Expect(left).NotTo(BeEmpty(), "the killed run left its dm-log-writes device (else this spec proves nothing):\n%s", before)
		Expect(section(before, "losetup")).To(And(ContainSubstring(sweepWork+"/out1-"), ContainSubstring("data.img"), ContainSubstring("log.img")))
		Expect(section(before, "mounts")).To(ContainSubstring("/dev/mapper/" + left + " "))
		Expect(got["again"]).To(MatchRegexp(`--kernel-check: took down what a killed earlier run left: unmounted \S+/mnt, removed device-mapper device %s, detached /dev/loop\d+, detached /dev/loop\d+`, left))
		expectNoneLeft(got["after"])
	}, SpecTimeout(40*time.Minute))

	It("the next run takes down a replay's mount -o loop the killed run left", func(ctx SpecContext) {
		got := bootSweep(ctx, " "+sweepWork+"/out1-[0-9]*/.*/replay/mnt ")
		before := got["before"]
		Expect(section(before, "mounts")).To(MatchRegexp(`^/dev/loop\d+ \S+/replay/mnt ext4`), "the killed run left a replay mounted (else this spec proves nothing)")
		Expect(section(before, "losetup")).To(ContainSubstring("/replay/replay.img"))
		Expect(section(before, "dmsetup")).NotTo(MatchRegexp(`mapchaos-lw-\d`), "the device is taken down before the replays")
		Expect(got["again"]).To(MatchRegexp(`--kernel-check: took down what a killed earlier run left: unmounted \S+/replay/mnt`))
		expectNoneLeft(got["after"])
	}, SpecTimeout(40*time.Minute))
})

// section is the part of a sweepList listing after "== name", up to the
// next "==" line.
func section(listing, name string) string {
	_, rest, ok := strings.Cut(listing, "== "+name+"\n")
	if !ok {
		return "(no " + name + " section)"
	}
	body, _, _ := strings.Cut(rest, "== ")
	return strings.TrimSpace(body)
}
