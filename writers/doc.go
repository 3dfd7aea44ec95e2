// Package writers holds the writer strategies of mapchaos: the ways of
// replacing a memory-mapped database file (the target) that the harness
// races against readers.
//
// A writer applies one Update: when it returns nil, the target holds
// exactly the bytes of the source. Each writer imitates one real tool and
// makes the same system calls on the target, in the same order. Before each
// system call that changes the target or its directory it calls
// Update.Step with a short description, so that the engine can time
// starting readers and tell what the writer was doing when a reader died.
//
// # Strategies
//
// The names are part of the mapchaos contract (see Builtin):
//
//	cp                cp(1), cat a > t
//	                  openat(t, O_WRONLY|O_CREAT|O_TRUNC), copy_file_range, close
//	rename            geoipupdate
//	                  openat(t.temporary, O_WRONLY|O_CREAT|O_TRUNC), copy_file_range,
//	                  fsync, close, renameat(t.temporary, t), fsync(dir)
//	symlink-swap      ln -sfn (coreutils 9), renameio.Symlink
//	                  openat(t.vN, O_CREAT|O_EXCL), copy_file_range, fsync, close,
//	                  symlinkat(t.vN, t.tmp-link), renameat(t.tmp-link, t),
//	                  fsync(dir), unlinkat(older data files)
//	symlink-recreate  rm -f t && ln -s t.vN t
//	                  openat(t.vN, O_CREAT|O_EXCL), copy_file_range, fsync, close,
//	                  unlinkat(t), symlinkat(t.vN, t), unlinkat(older data files)
//	inplace           rsync --inplace, dd conv=notrunc
//	                  openat(t, O_WRONLY|O_CREAT), pwrite per 256 KiB, ftruncate, close
//	remove-create     install(1), cp --remove-destination
//	                  unlinkat(t), openat(t, O_WRONLY|O_CREAT|O_EXCL), copy_file_range,
//	                  fchmod(0644), close
//
// Only rename and symlink-swap are atomic: a reader never sees a missing,
// partial or torn target, and one that mapped the old file keeps it whole.
// All but cp and inplace keep every file they find (Properties.KeepsFiles):
// they write new files and rename, link or unlink old ones, so step mode
// may give their kill runs hard links to one prepared layout (LinkTree);
// others get copies (CopyTree, or CopyInto an existing directory: NFS kill
// runs, on the server). The symlink strategies need a target laid
// out by Install: a relative symlink to a data file <base>.v<N> in the same
// directory. Where
// copy_file_range is not supported between the two files (EXDEV, ENOSYS,
// EOPNOTSUPP, EINVAL), the copy goes on with pread and pwrite by 256 KiB.
//
// # Caveats
//
// The writers are Go code running in the harness's process, making the real
// system calls through golang.org/x/sys/unix; they are not the tools
// themselves. Their differences: cp's ioctl(FICLONE) attempt is skipped (it
// fails on ext4 and tmpfs anyway); the target's directory is opened once and
// every file is reached through it with *at calls; every open adds
// O_CLOEXEC and O_NOFOLLOW (not shown in steps), so a writer never follows a
// symlink out of the target's directory and touches no file outside it. The
// source is only read.
//
// Readers share the page cache with the writer: a reader sees a write as
// soon as the system call returns, long before it reaches the disk, so what
// the races show is the file system's behaviour, not the disk's. Nothing
// here protects against power loss beyond the fsyncs each strategy makes
// (cp, inplace and remove-create make none).
//
// ctx is checked before each system call that changes the target or its
// directory. A cancelled update stops there and leaves the target as the
// tool would if it were killed at that point (cp: truncated or partial;
// remove-create and symlink-recreate: possibly missing). Files a writer
// created but did not publish (temporary files and links, new data files)
// are removed when it fails or is cancelled.
//
// The package uses Linux system calls (copy_file_range) and builds on
// Linux only.
//
// Exec (writers.Command) runs the user's own updater instead: a real
// command, once per update, with {new} and {target} expanded wherever they
// appear in its arguments. Every process it starts is tracked (a cgroup
// where one can be made, else a mark in the environment; see
// internal/proctrack) and killed on timeout, on cancellation and after it
// exits, and each one that outlived it is named to Update.Leftover; an exit
// 0 that did not install the new version is a failure. Exec.Prepare gives
// a caller that runs the command itself (step mode, under ptrace) the same
// argv, environment, {new} file and post-update check.
//
// The files: exec.go (Exec, Validate, CommandError, Update), prepare.go
// (Prepare, the {new} file, the post-update check), run.go (starting the
// command and ending everything it started), watch.go (the inotify watch
// of the target's directory that reports what the command did as steps).
package writers
