// Package mounts makes the file systems a run's targets live on, and
// always takes them down again: a loop-mounted image of ext4, xfs or
// btrfs, a tmpfs, or an overlay (a container image's lower layer with a
// writable upper layer).
//
// A Set is one run's mounts. Open starts one in a state directory of its
// own (<state>/<pid>-<random>; DefaultStateDir is $MAPCHAOS_MOUNTS or
// $TMPDIR/mapchaos-mounts), holding an exclusive flock on its lock file
// for as long as the run lives, and writes down every image, loop device
// and mount point in its journal before it makes it. Close takes
// everything down in reverse order: at the end of a run, and on Ctrl-C
// (the caller's context). A run that was killed (SIGKILL) cannot do
// that, so Open first sweeps: a set whose lock nobody holds any more
// belonged to a dead run, and its journal says exactly what to unmount,
// remove, detach and delete, in that order: mounts newest first, then
// device-mapper devices newest first, then loop devices. Nothing the
// journals do not name is touched: a loop device is detached only when
// its backing file is an image the journal names, a path is unmounted
// only when the journal names it and /proc/self/mountinfo says it is
// mounted, and a device-mapper device is removed (dmsetup remove) only
// when the journal names it and every device under it
// (/sys/block/dm-N/slaves) is a loop device on one of the journal's
// images: a device of the same name over anything else is someone
// else's, and stays.
//
// Other packages journal what they make in a Set too: JournalLoop,
// JournalDM and JournalMount write a loop image, a device-mapper name or
// a mount point down before the caller makes it (logwrites.Journal: the
// kernel check's loop devices, dm-log-writes target, its mount and the
// replays' mount -o loop). Their paths are made absolute, symbolic links
// resolved, as the kernel shows them.
//
// Caveats:
//   - Mounting needs root (CAP_SYS_ADMIN) and, for images, loop devices
//     and mkfs.ext4, mkfs.xfs or mkfs.btrfs (Debian e2fsprogs, xfsprogs,
//     btrfs-progs); Available says what is missing.
//   - Images are sparse files in the set's directory, sized by the caller
//     (Size); xfs refuses file systems under 300 MiB and btrfs under
//     about 114 MiB, so small pairs still get images of that size. Only
//     written blocks use disk space.
//   - A process that still has a file open on a mount (a reader that
//     outlived a killed run) keeps it busy: Close and the sweep then
//     detach it lazily (MNT_DETACH); the kernel frees the file system and
//     its loop device when the last such file is closed.
//   - The sweep finds a dead run's state by the state directory: runs
//     with a different state directory ($MAPCHAOS_MOUNTS, $TMPDIR) do not
//     see each other's leftovers.
//   - An overlay's upper and work directories are made fresh for each
//     mount (in a directory the caller names, such as a tmpfs of the same
//     set) and deleted when it is unmounted; overlayfs keeps st_dev and
//     st_ino across a copy-up, so the same numbers may name the lower file
//     before the first write and the upper copy after it.
//   - Mount points are in the mount namespace of the process; a sweep
//     from another namespace does not see them mounted.
//   - A device-mapper device still open (a file system on it that a
//     lazily detached mount keeps alive) cannot be removed: dmsetup
//     remove --retry gives up, and the sweep returns an error naming it;
//     the set's state is removed all the same (as after a failed
//     unmount), so the device stays until someone removes it by hand. The host this was
//     written on has no device-mapper: what a sweep does to a dm device
//     is proven in the amd64 guest (cmd/mapchaos kernelsweep_test.go).
package mounts
