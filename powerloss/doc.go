// Package powerloss finds the states a power loss during an update may
// leave on disk, under a named persistence model, and lays each out so that
// a restarted reader can open it.
//
// A kill (step mode's kill points) loses nothing the updater wrote: the
// page cache survives. A power cut loses what was not yet on disk: data
// written but not synced, directory changes whose directory was not
// synced, in orders no kill shows. This is why geoipupdate fsyncs its
// temporary file and the directory around its rename, and why `curl -o
// db.tmp && mv db.tmp db` can leave an empty or zero-filled database after
// a crash.
//
// # Recording
//
// A Recorder is given to step.Config.OnCall: the step runner calls it, in
// the harness's process and while every task of the updater is stopped,
// before the update, after each mutating call, and at each barrier (fsync,
// fdatasync, syncfs, sync_file_range). It reads the watched directories
// (the target's, and the one a symlinked target points into): every name
// (a regular file's inode, a symlink's text, a directory) and every
// regular file's size and pages, each page classified as the same page of
// the old version, of the new one, zeros, or other bytes (only these are
// copied). A file whose size and times did not change since it was read
// (and whose change time was already old then) is not read again. An
// inode number freed and used again is a new file. Nothing depends on
// which calls were made, only on what the directories held after each, so
// any updater works (`check --writer-cmd`), threads and children included.
// A barrier says what it made durable: fsync or fdatasync of a file (its
// data and size), fsync of a directory (its entries), syncfs (all);
// sync_file_range persists no metadata and counts for nothing.
//
// # Models
//
// A crash follows some point k of the trace (a prefix state is every call
// up to k persisted: the baseline, what a kill leaves). Each model says
// which states a crash after k may leave:
//
//   - Posix, the worst a POSIX file system may do, in the spirit of ALICE
//     (Pillai et al., "All File Systems Are Not Created Equal", OSDI 2014:
//     ops after the last sync may be dropped or reordered, appends split
//     into block-sized pieces) and LazyFS (Ramos et al., VLDB 2024: unsynced
//     data lost, torn writes and sequences): since a file's last fsync each
//     of its writes may persist or not, torn at block (4 KiB) granularity
//     and, inside a block, at sector (512 byte) granularity (half of the
//     drawn states tear up to four blocks so); its size may be any
//     size it had since, block by block in between, and persist without its
//     data (zeros); a directory entry change (create, unlink, rename,
//     symlink) persists only once its directory is fsynced, each name
//     keeping any value it had since; a rename is atomic for the name it
//     replaces (the other name is chosen on its own, so a state may show
//     both names or neither: only leftovers, never the target, differ).
//   - Ext4Ordered, what ext4's default mount allows (data=ordered, delayed
//     allocation, auto_da_alloc; dioread_nolock is the default since Linux
//     5.6): metadata goes through one journal committed in order, and an
//     fsync commits all of it, so names and truncations are those after one
//     point m between the last barrier and the crash; pages a file already
//     had are written back in any order (torn); new blocks are allocated at
//     writeback and data=ordered commits a size only over written data, so
//     a file grows as a prefix (empty or short, never zeros); but when the
//     file replaced another by a rename, or was truncated to zero and
//     closed, auto_da_alloc allocates its blocks before that commit without
//     waiting for the data (fs/ext4/namei.c; Jan Kara on LKML: "we do not
//     guarantee that the data is securely on disk before rename"), so it has
//     its full size and each new page its data or zeros (an unwritten extent
//     not yet converted, as in the 2022 report of a renamed file reading back
//     as zeros). ReplayKernel checks it against a real kernel.
//
// CrashMonkey (Mohan et al., OSDI 2018) explores block-level states between
// flushes the same way; dm-log-writes (Linux device-mapper) is how such
// states are replayed from a real kernel.
//
// # Checked against the kernel
//
// ReplayKernel takes the dm-log-writes log of the same update run on ext4
// or xfs (package logwrites; the harness runs the traced update on that
// file system) and replays it to the mark before the update, to every
// flush and FUA entry, to its end and to entries between drawn from the
// seed; mounts each replay (ext4's journal or xfs's log recovers), records
// the target's directory with the Recorder's classifier (Snapshot) and
// asks the model (a Checker) whether it allows the state: ext4's states
// Ext4Ordered.Allows, xfs's Posix.Allows (there is no model of xfs's own;
// its states must at least be POSIX's). Posix.Allows looks for a crash
// point after which every name holds one of the values it had since its
// directory's fsync (absent included), every file a size the model allows
// and each page one of its choices, or, for a page of other bytes, a
// block torn at sector granularity between two of them. A state the model
// does not allow is a bug in the model (or, for posix, in the file system). Coverage says how many explored model states the kernel
// left. Between flushes only prefixes of the log's order are replayed, not
// every subset of the writes in flight.
//
// # Exploring and judging
//
// The states are usually far too many (every page of a 16 MiB file may
// hold one of two or three contents): Explore counts them (Count: an upper
// bound, summed over crash points) and chooses at most a budget of
// distinct ones, the same for the same seed: the states before and after
// the update, the model's corners after the last call (everything since
// the barriers lost; the names kept but no data; names and sizes kept, data
// zeros; half the data; data kept, names not), the other prefix states and
// corners, and draws from the seed. Judge builds each in a fresh directory
// (Trace.Build: hard links kept, absolute symlinks rewritten into it),
// opens it with a step.Restarter (every reader strategy, foreign readers as
// real processes) and names it: missing, empty, zero-filled, partial, torn,
// whole A or whole B, with what was lost and what was left behind. Result
// turns the judged states into a results.Result: a state in which a
// restarted reader cannot serve is down (the service does not come back),
// and makes the combination unsafe in this mode though the reader's word
// stays degraded.
//
// The same seed gives the same states and verdicts. An updater that names
// its temporary files at random (rsync's .db.mmdb.XXXXXX) gives other
// names, and so may draw other states, on another run.
//
// Not covered: disks that lie about flushes, fsync errors (a failed fsync
// that drops dirty pages), writes through shared mappings and io_uring
// (step mode does not see them), and file systems other than the models
// describe; the kernel check covers ext4 and xfs only.
package powerloss
