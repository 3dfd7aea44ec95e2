// Package harness assembles and runs a mapchaos run: every entry point
// (`mapchaos matrix`, `mapchaos check`, `explain --reproduce`, the matrix
// suite and mapchaos.Race) builds a Run and calls Execute.
//
// A Run is:
//
//   - a Plan: the combinations (writer x reader, with what ginkgo.yml
//     expects of each) and the race settings, resolved from a config by
//     Resolve, or built by hand (check holds every reader to its gate);
//   - a fixture pair, resolved once (ResolveFixture: generated and cached,
//     or the user's own);
//   - a Mode: how readers' fates are found. Race races by timing (package
//     engine); Step steps each writer under ptrace and probes every reader
//     at every state (package step); PowerLoss traces each writer the same
//     way and opens every state a power loss may leave under a persistence
//     model with restarted readers (package powerloss); with Kernel set it
//     also runs each update on KernelFS, ext4 or xfs, over dm-log-writes
//     (package logwrites) and checks every replayed state of the kernel's
//     log against that file system's model (KernelModel: ext4-ordered for
//     ext4, posix for xfs, which has no model of its own) (the CLI's
//     --kernel-check and --fs xfs, in the amd64 guest; with xfs the run
//     directories stay where --out is, as mkfs.xfs's 320 MiB device and
//     64 MiB log do not fit the image --fs xfs would mount for them;
//     ginkgo.yml's mode: power-loss expectations decide what is met). A mode that is not
//     available here (step without ptrace) gives way to Race, which the
//     report says (power-loss mode fails instead: a race says nothing
//     about a power cut);
//   - an Environment: where the run happens. Local runs on this machine in
//     the output directory; Guest runs the same plan inside a real arm64
//     or amd64 kernel under qemu-system (on its ext4 disk and a tmpfs, or
//     on the one file system FS it makes there) and brings its reports
//     back; Mounted runs
//     like Local with the targets on a file system made for the run
//     (package mounts: a loop-mounted ext4, xfs or btrfs image, a tmpfs,
//     or an overlay with the target in its lower layer) and always taken
//     down again; NFS runs like Local with each target on an export of
//     this kernel's nfsd, the updater working through one NFS client (or
//     on the server) and the readers mapping it through another, each
//     client in a network namespace of its own, and the readers' cached
//     pages evicted at seeded moments (cold pages, by cgroup
//     memory.reclaim; in step mode after every probe, until a pass frees
//     nothing). In step mode its kill runs restore their start on the
//     server's side (templater), and every start state waits until both
//     clients show it (settle).
//
// Adding a mode or an environment is one new type. Execute returns the
// reports (one per place the run happened), which Write writes; Events
// hears progress, which the CLI prints. Repro renders, once for all
// modes and commands, the command line that runs a combination again.
//
// PrepareOut guards the output directory: a run removes only what it wrote
// (the names OutMarker lists), and a directory holding anything else is
// refused as bad input; a run directory is never cleared, only made new.
package harness
