// Package readers holds the reader strategies, the reader child program,
// the one judge of a reader's answers, and the driver of foreign readers.
//
// A reader strategy is one way a service opens and reads the target (see
// Builtin, and `mapchaos list`): mmap (maxminddb.Open, no protection),
// mmap-recover (the same with debug.SetPanicOnFault around lookups and
// reopens, refusing lookups after a fault until a reopen succeeds), mmap-v2
// (maxminddb-golang/v2, fd closed at once), bytes (os.ReadFile +
// maxminddb.FromBytes, keeping the old buffer when a reload fails), and the
// typed geoip2-city and geoip2-enterprise (geoip2-golang v1) and
// geoip2-v2-city and geoip2-v2-enterprise (geoip2-golang/v2), which need a
// generated fixture of their kind (Properties.Fixture) so that a crash shows
// the frames of a real service's City or Enterprise call.
//
// Every built-in reader runs in its own child process (`mapchaos reader
// ...`, see RunChild) so that a SIGBUS kills the child, not the harness. The
// child looks up random IPs of the fixture as fast as it can, judges every
// answer (Judge), reloads the target on an interval (a failed reload keeps
// the old DB), and streams its counts (a verdicts.Tally) and notable events
// to the parent as JSON lines (see Event). It also keeps its last lookups
// in a small shared-memory ring file (see Ring) that the parent reads after
// the child has died, because a process killed by a fault cannot say what
// it was doing. A SIGQUIT (what the harness sends a stuck reader) makes
// every thread dump its goroutine before the child aborts, so the dump shows
// where the stuck goroutine was (see dumpEveryThreadOnQuit). Its ticks say
// when it is inside an open or reload (Event.Opening), which moves no
// counter while it reads a large file whole. LookupCode says which DBs run
// the same library code over the file's bytes, so that step mode can make
// one lookup of each IP for all of them.
//
// A foreign reader is a process in any language speaking the line protocol
// of docs/contracts.md (Foreign, ForeignStrategy). ForeignProcess is its one
// driver: step mode asks it one lookup at a time at every state, race mode
// asks it lookups and reloads in a loop; JudgeJSON judges its answers.
package readers
