// Package step steps an updater of the target under ptrace, one system call
// at a time, and reports every state of the target that readers could meet.
//
// Racing by timing finds wide windows (a whole-file copy) but misses narrow
// ones: the instant between an unlink and a create, one torn state of an
// in-place write. Run finds them deterministically. It runs the updater (any
// argv; a built-in writer runs as `mapchaos writer NAME SRC TARGET SEQ`) as
// a real child process under ptrace and stops it after every system call
// that changes the target or its directory. At each stop it probes, in the
// harness's own process:
//
//   - the running readers, opened before the update: a MAP_SHARED mapping
//     the harness made of the target beforehand is checked page by page
//     by loading a byte of each under SetPanicOnFault (a fault becomes a
//     panic the probe recovers: exactly where a reader would get SIGBUS;
//     not MADV_POPULATE_READ, which spins on NFS before Linux 6.9), and
//     summed (CRC32C) against both versions; then each reader strategy's
//     lookups run on what it opened before the update: a mapped strategy
//     on a mapping made with maxminddb's Open (the probe recovers every fault itself and
//     classifies it by whether the strategy recovers faults; readers whose
//     running strategies are equal, as mmap and mmap-recover are, share one
//     mapping and one lookup of each IP, and each judges the answers), an
//     unmapped one on its own buffer, a foreign one in its own process;
//     every answer is judged by readers.Judge;
//   - a starting reader, opening the target now: ENOENT, an empty, partial
//     or torn file, or a whole version; then each reader strategy opens the
//     target with its own Open and looks up. Readers whose DBs run the same
//     library code over the target's bytes (readers.LookupCode: mmap,
//     mmap-recover and, once its buffer is checked page by page, bytes)
//     share one lookup of each IP, as running readers of one strategy do:
//     on a torn file one lookup can spend milliseconds inside the library
//     formatting the garbage it decoded into its error. Where a shared
//     lookup faults or panics, each looks up on its own.
//
// The updater then goes on. The Sequence lists the distinct states, each
// with the system call that produced it, and marks the first unsafe one.
// Then, for every step k, the update runs again from the same initial state
// (Config.Prepare; harness lays it out once per update and restores a copy
// of it for each run) and is killed with SIGKILL right after step k: a Kill
// says what a starting reader finds (the whole old or new file, or a
// missing, empty, partial or torn one) and what was left behind. Result
// turns the sequences into the verdicts of race mode by the same judge and
// rule (readers.Judge, verdicts.Judge: a running mmap reader meeting a page
// that faults: crash; mmap-recover: recovered; a torn file read whole:
// corrupt ...), with the step as evidence; package reports renders them.
//
// Every state and kill point comes from a real stop of the real updater;
// nothing is simulated. The same input gives the same sequence on every
// run (file names an updater draws at random, like rsync's temporary files,
// differ, and are matched by shape when a kill run is compared with the
// stepped run).
//
// # How
//
// A trace wrapper (Wrap, run as `mapchaos trace-wrap` or `mapchaos writer
// --trace-wrap`) installs a seccomp filter that returns SECCOMP_RET_TRACE for
// the interesting system calls only (opens for writing, writes, copies,
// truncations, renames, unlinks, links, mode changes, FICLONE, fsync and its
// kin, writable shared mappings, io_uring; mmap and openat are tested on
// their arguments in the filter, so that the private mappings and read-only
// opens every program makes at start-up do not stop), stops itself with
// SIGSTOP and, once the harness has attached with PTRACE_SEIZE (Go's own
// SysProcAttr.Ptrace uses PTRACE_TRACEME, which does not allow
// PTRACE_INTERRUPT), execs the updater. The harness follows threads, forks,
// vforks and execs (PTRACE_O_TRACECLONE/FORK/VFORK/EXEC, EXITKILL),
// re-injects signals, and decodes each call with PTRACE_GET_SYSCALL_INFO,
// which reads the same on amd64 and arm64 (only *at calls there). Every
// ptrace request comes from one locked OS thread. Calls are decided on at
// the entry stop (is the path or the file behind the descriptor in a
// watched directory?) and probed at the exit stop.
//
// Mutating calls run one at a time: before letting one in, the harness
// freezes every other task of the updater (PTRACE_INTERRUPT) and keeps them
// stopped until the call has returned and been probed. When several tasks
// wait at a mutating call at once, the seed draws which goes first. This
// makes the sequence deterministic for single-threaded updaters and for
// threads that reach their calls in a stable order; for threads that truly
// race, the seed orders those waiting at the same instant, and the set that
// is waiting can still depend on timing.
//
// By default the harness probes after every mutating call except data
// writes, and after the 1st, 2nd, 4th, 8th ... data write and the last one
// (Config.ProbeEveryWrite probes after every write). A copy_file_range,
// sendfile or splice is one stop; Config.Clamp shortens each to expose the
// partial states of a one-call copy (PTRACE_SET_SYSCALL_INFO, Linux 6.16).
//
// # Caveats
//
// Invisible to system-call stepping: writes through a writable shared
// mapping and io_uring (both warned about), changes made by other processes
// (NFS or FUSE servers, daemons outside the process tree), and system calls
// of a foreign ABI (32-bit calls on amd64: warned about, not decoded). The
// seccomp filter sets no_new_privs: a setuid updater (sudo) does not gain
// privileges under it; Config.NoSeccomp stops at every call instead (about
// ten times as many stops). Group-stops of the updater are not kept (a
// stepped updater is not job-controlled).
//
// Run reaps with wait4(-1): the calling process must not start other child
// processes while it runs, except inside a probe that reaps them before it
// returns. Built-in readers are probed in process; a foreign reader (a
// readers.ForeignStrategy) is a real process of the reader's command: the
// running one is started before the update and asked its lookups at every
// stop, a starting one is started and closed within the probe, and one
// that dies is reaped at once, so its wait status (killed by SIGBUS) is the
// verdict's evidence. It is not meant to run concurrently with itself in
// one process.
//
// Kill points cover a killed updater, not a lost machine: the page cache
// survives a SIGKILL. Barriers (fsync, fdatasync, sync_file_range, syncfs)
// are recorded in Sequence.Calls, and Config.OnCall hears every call of the
// stepped run (mutating ones after they return, barriers at their entry)
// while the updater is stopped: package powerloss records the directories
// there and builds the states a power loss may leave. Restarter opens such
// a state with the same starting readers as the probes.
//
// Where ptrace is not allowed (kernel.yama.ptrace_scope 3, EPERM from
// PTRACE_SEIZE in a container), Available and Run return ErrNotPermitted;
// callers fall back to racing and say so.
package step
