// Command mapchaos-vm runs the project's Ginkgo suites inside a real arm64
// Linux kernel under qemu-system-aarch64, so that `make test-arm64` means
// the suites passed on arm64:
//
//	mapchaos-vm suites [--packages ./engine,./suites/matrix,...] [--fs ext4,tmpfs] [--out DIR] [--page-size 4k|16k]
//
// --page-size 16k boots Debian's 16 KiB-page kernel (linux-image-arm64-16k,
// from the host mirror's backports suite) on -cpu max instead of the 4 KiB
// cloud kernel.
//
// It compiles each package's tests for linux/arm64 with CGO_ENABLED=0
// (go test -c), builds mapchaos and the guest init the same way, lays them
// out on an ext4 disk with a copy of the source tree (src/<package>/<name>.test
// beside the package's files, so testdata, scripts and the foreign reader
// are where the specs look) together with this machine's fixture cache,
// boots the cached Debian arm64 kernel with the guest's Debian root (package
// vm: dash, GNU coreutils, rsync, python3 with maxminddb ...) and runs each
// test binary as a step of the guest init, chrooted into that root, with
// -ginkgo.label-filter='!qemu' (specs that boot qemu themselves are left
// out) and $MAPCHAOS_BIN naming
// the prebuilt mapchaos (the guest has no Go toolchain), $MAPCHAOS_CACHE
// the staged fixtures and $TMPDIR and $MAPCHAOS_OUT on the chosen file
// system. Each suite's junit.xml (and the matrix suite's report) comes back
// to --out/<fs>/<suite>/; every skipped spec is listed with its reason.
//
// Exit status: 0 every suite passed, 1 a suite failed, 2 bad usage, 3 the
// harness failed (no qemu, no kernel, no Go toolchain, a guest that hung or
// panicked; qemu is always killed).
package main
