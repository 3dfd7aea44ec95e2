// Package vm boots a real Linux kernel of another architecture under
// full-system emulation (qemu-system-aarch64 for arm64, qemu-system-x86_64
// with TCG for amd64) with a Go program as its init and a Debian userland,
// so that mapchaos can race its matrix, and run its suites, where faults
// are the guest kernel's own: on arm64 the Go runtime's "unexpected fault
// address 0xffff..." and "[signal SIGBUS: bus error code=0x2
// addr=0xffff... pc=...]", which user-mode emulation (qemu-user) cannot
// show; on amd64, kernel features the host lacks (its kernel has no NFS).
//
// The pieces, each usable alone:
//
//   - Arch (Arm64, Arm64Pages16K, Amd64, ArchNamed, WithPageSize): an
//     architecture's Debian and Go name, its emulator, machine arguments,
//     console, virtio disk device, kernel metapackage, disk modules and
//     page size. Arm64Pages16K is Debian's linux-image-arm64-16k (6.12,
//     from the suite RELEASE-backports of the host's own mirror, which Apt
//     adds to its private sources for that fetch only) on -cpu max, which
//     has the 16K translation granule qemu's Cortex-A72 lacks.
//   - Kernel and EnsureKernel: Debian's cloud kernel of an Arch (ext4 built
//     in, virtio as modules), fetched once with apt-get for that
//     architecture without adding it to dpkg (Apt: private package lists,
//     an empty private dpkg status; the host's apt sources and proxies),
//     unpacked with dpkg-deb, and cached in DefaultCacheDir: the image,
//     every module of the package (the guest loads those its virtio disk
//     needs and those a run names in Guest.Modules, nfsd or xfs say, in
//     the load order their .modinfo gives: Kernel.ModuleOrder, LoadOrder),
//     and a static busybox (busybox-static) for guests
//     without a Debian root. A warm cache needs no network at all. Modules
//     shipped as .ko.xz (6.12's) are decompressed with xz when cached, so
//     the guest init loads plain .ko files; each page size of an
//     architecture has its own entry (kernel-arm64-16k.json).
//   - Rootfs and EnsureRootfs: the guest's Debian root, made of
//     RootPackages (libc6, coreutils, dash, bash, util-linux, mount,
//     e2fsprogs, rsync, python3 with python3-maxminddb, kmod, iproute2,
//     nfs-kernel-server, nfs-common, rpcbind, dmsetup, xfsprogs,
//     btrfs-progs ...) and their dependencies, resolved
//     by apt-get install --download-only against an empty dpkg status,
//     unpacked with dpkg-deb -x without running maintainer scripts, /bin,
//     /sbin and /lib merged into /usr, passwd and group from base-passwd,
//     Python bytecode compiled by the host's python3 when it is the same
//     version; cached once per architecture and package list as a
//     read-only ext4 image, built in a temporary directory and renamed
//     into place (a half-built root is never used).
//   - Source: the Go toolchain and the module's source tree (found from
//     $MAPCHAOS_SRC, the working directory, or where the binary was built),
//     which builds static linux programs and test binaries for the guest's
//     GOARCH (CGO_ENABLED=0).
//   - CPIO and Initramfs: a newc cpio writer (gzip), the initramfs format.
//   - MakeExt4: an ext4 image made from a directory with mkfs.ext4 -d
//     (e2fsprogs), no root needed.
//   - Plan and Step: what the guest init (cmd/mapchaos-guest) does: load
//     the modules, mount the work disk as ext4 at GuestDisk and a tmpfs at
//     GuestTmpfs, mount the Debian root read-only at GuestRoot (Plan.Root),
//     run the steps with their timeouts, chrooted into the root, send back
//     what each collected (Pack), power off. Disks are told apart by their
//     virtio serials (DiskSerial, RootSerial).
//   - Reporter and ConsoleParser: the console protocol. The guest prints
//     events as Marker + JSON lines on the serial console; everything else
//     passes through. Blobs travel as base64 lines with their size and
//     SHA-256, so a garbled console is detected, never taken for a result.
//   - Machine: one qemu run, always bounded: qemu runs in its own process
//     group with a parent-death signal, and is killed on timeout or
//     cancellation. A boot that does not end with the guest's "done" (a
//     hang, a kernel panic, a failed init, damaged results) is a
//     *GuestError carrying the console tail.
//   - Setup (with Want) and Guest.Boot tie them together.
//
// Caveats, stated plainly: the emulated CPU (TCG) runs tens of times
// slower than the host, so anything decided by timing may differ from
// hardware; the arm64 kernel has 4 KiB pages, or 16 KiB with
// Arm64Pages16K (Debian packages no 64 KiB-page arm64 kernel: one would be
// a custom build with CONFIG_ARM64_64K_PAGES); the arm64 kernel runs with
// kpti=0 (see Machine.Args); the Debian root is unpacked without its
// maintainer scripts, so services are not configured (a step starts what
// it needs itself).
package vm
