// Package logwrites reads and replays the log of Linux's dm-log-writes
// device-mapper target (drivers/md/dm-log-writes.c,
// Documentation/admin-guide/device-mapper/log-writes.rst), and makes such a
// device for a run.
//
// The target passes every write to a data device and also logs it, once
// the disk has it (writes are logged when a flush covers them, FUA writes
// when they complete), on a log device: a super block (magic, version,
// entry count, sector size) in the first sector, then per entry a header
// sector (sector, sector count, flags: flush, FUA, discard, mark, metadata;
// a mark's name after the header) followed by the written data. Log reads
// it (Open); Apply writes a range of entries onto an image of the data
// device (a discard punches a hole: it reads back as zeros); a Replayer
// keeps a cursor image and hands out a fresh copy of the device as it was
// after any entry, in order, so that mounting a copy (ext4 replays its
// journal, xfs recovers its log) changes neither the cursor nor the log.
//
// Device makes the target over two loop devices on sparse images (root,
// dmsetup, losetup, mkfs.ext4 or mkfs.xfs and the dm_log_writes module:
// Available says what is missing), makes ext4 or xfs on it (Mkfs: xfs's
// data device is at least 320 MiB, MinSize, as mkfs.xfs refuses less) and
// mounts it (a replay's xfs with nouuid), writes marks (dmsetup
// message ... mark NAME), and Close takes it all down again. Create and
// MountFS take a Journal (nil: none), in which they write down each loop
// image, the target's name and each mount point before making it: a
// mounts.Set is one (logwrites does not import mounts), so that a run
// killed with SIGKILL, which cannot Close, leaves a journal from which
// the next run's mounts.Open sweep unmounts, removes the target
// (dmsetup remove) and detaches the loop devices.
//
// Not supported: logs of DAX devices (inline data entries).
package logwrites
