// Package vm boots a real arm64 Linux kernel under full-system emulation
// (qemu-system-aarch64) with a Go program as its init, so that mapchaos can
// race its matrix, and run its suites, where faults are arm64's own: the
// Go runtime's "unexpected fault address 0xffff..." and
// "[signal SIGBUS: bus error code=0x2 addr=0xffff... pc=...]", which
// user-mode emulation (qemu-user) cannot show.
//
// The pieces, each usable alone:
//
//   - Kernel and EnsureKernel: Debian's arm64 cloud kernel (ext4 built in,
//     virtio as modules), fetched once with apt-get for arm64 without
//     adding the architecture to dpkg (private package lists; the host's
//     apt sources and proxies), unpacked with dpkg-deb, and cached in
//     DefaultCacheDir: the Image and the modules the virtio disk needs, in
//     the load order their .modinfo gives (LoadOrder), and a static busybox
//     (Debian's busybox-static for arm64) that gives the guest /bin/sh and
//     the usual tools, since some specs run `sh -c`. A warm cache needs no
//     network at all.
//   - Source: the Go toolchain and the module's source tree (found from
//     $MAPCHAOS_SRC, the working directory, or where the binary was built),
//     which builds static linux/arm64 programs and test binaries
//     (CGO_ENABLED=0).
//   - CPIO and Initramfs: a newc cpio writer (gzip), the initramfs format.
//   - MakeExt4: an ext4 image made from a directory with mkfs.ext4 -d
//     (e2fsprogs), no root needed.
//   - Plan and Step: what the guest init (cmd/mapchaos-guest) does: load
//     the modules, mount /dev/vda as ext4 at GuestDisk and a tmpfs at
//     GuestTmpfs, run the steps with their timeouts, send back what each
//     collected (Pack), power off.
//   - Reporter and ConsoleParser: the console protocol. The guest prints
//     events as Marker + JSON lines on the serial console; everything else
//     passes through. Blobs travel as base64 lines with their size and
//     SHA-256, so a garbled console is detected, never taken for a result.
//   - Machine: one qemu run, always bounded: qemu runs in its own process
//     group with a parent-death signal, and is killed on timeout or
//     cancellation. A boot that does not end with the guest's "done" (a
//     hang, a kernel panic, a failed init, damaged results) is a
//     *GuestError carrying the console tail.
//   - Setup and Guest.Boot tie them together.
//
// Caveats, stated plainly: the emulated CPU (cortex-a72, TCG) runs tens of
// times slower than the host, so anything decided by timing may differ
// from hardware; the kernel has 4 KiB pages (Debian packages no 16 or 64
// KiB page arm64 kernel); the kernel runs with kpti=0 (see Machine.Args).
package vm
