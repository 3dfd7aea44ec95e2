// Command mapchaos-guest is the init program (PID 1) of the guest that
// `mapchaos matrix --arch arm64`, `mapchaos check --arch arm64` and
// `mapchaos-vm suites` boot under qemu (qemu-system-aarch64, or
// qemu-system-x86_64 for the amd64 guest of package vm). It is built
// static for the guest's architecture and is the initramfs's /init.
//
// It mounts /proc, /sys, /dev (devtmpfs, with /dev/shm and /dev/pts), /tmp,
// /run and a tmpfs at /mnt/tmpfs, loads the virtio modules the plan names with finit_module(2),
// finds the disks by their virtio serials, mounts the work disk (ext4) at
// /mnt/disk and, when the plan has a Debian root (vm.Plan.Root), mounts that
// read-only at /mnt/root, binds /proc, /sys, /dev, /tmp, /mnt/disk and
// /mnt/tmpfs into it and puts tmpfs on its /run, /root, /var/tmp and
// /var/lib/nfs. It runs the plan's steps (vm.Plan, read from
// /mapchaos/plan.json) one after the other, each chrooted into the Debian
// root when there is one (so /bin/sh is dash, cp is GNU coreutils, python3
// is Debian's), or all at once (vm.Plan.Parallel), each with a timeout
// after which it reports the tasks in uninterruptible sleep with their
// kernel stacks, sends SIGQUIT to the step's process group (Go programs
// dump their goroutines), and kills every process but init; with
// vm.Plan.StopOnTimeout the steps after a timed-out one are not started.
// Without a root the steps run in the initramfs, with busybox's
// applets in /bin. Their output goes to the console; what each step
// collected comes back as a gzipped tar in base64 lines of the console
// protocol (vm.Reporter). Then it syncs, unmounts and powers the machine
// off with reboot(LINUX_REBOOT_CMD_POWER_OFF), so qemu exits.
//
// Run anywhere but as PID 1 it refuses to start.
package main
