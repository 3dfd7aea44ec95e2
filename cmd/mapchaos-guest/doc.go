// Command mapchaos-guest is the init program (PID 1) of the arm64 guest
// that `mapchaos matrix --arch arm64` and `mapchaos-vm suites` boot under
// qemu-system-aarch64. It is built static for linux/arm64 and is the
// initramfs's /init.
//
// It mounts /proc, /sys, /dev (devtmpfs), /tmp, /run and a tmpfs at
// /mnt/tmpfs, loads the virtio modules the plan names with finit_module(2),
// mounts the ext4 disk /dev/vda at /mnt/disk, and runs the plan's steps
// (vm.Plan, read from /mapchaos/plan.json) one after the other, each with a
// timeout after which every process but init is killed. Their output goes
// to the console; what each step collected comes back as a gzipped tar in
// base64 lines of the console protocol (vm.Reporter). Then it syncs,
// unmounts the disk and powers the machine off with
// reboot(LINUX_REBOOT_CMD_POWER_OFF), so qemu exits.
//
// Run anywhere but as PID 1 it refuses to start.
package main
