// Package readers holds the reader strategies and the reader child program.
//
// A reader strategy is one way a service opens and reads the target: mmap
// (maxminddb.Open, no protection), mmap-recover (the same with
// debug.SetPanicOnFault in the lookup goroutine, refusing lookups after a
// fault until a reopen succeeds) and bytes (os.ReadFile + maxminddb.FromBytes,
// keeping the old buffer when a reload fails).
//
// Every reader runs in its own child process (`mapchaos reader ...`, see
// RunChild) so that a SIGBUS kills the child, not the harness. The child
// looks up random IPs of the fixture's universe as fast as it can, checks
// every answer against the self-checking records (fixtures.Universe.Verify),
// reloads the target on an interval, and streams its counts and notable
// events to the parent as JSON lines (see Event). It also keeps its last
// lookups in a small shared-memory ring file (see Ring) that the parent reads
// after the child has died, because a process killed by a fault cannot say
// what it was doing.
package readers
