// Package crashes reads what a dying reader leaves behind: a Go runtime
// fatal error or panic trace on stderr, or a wait status that says a signal
// killed the process. It names the signal and its si_code (BUS_ADRERR,
// SEGV_MAPERR ...), finds the fault address and the first frames outside the
// Go runtime, and copes with traces as people paste them (log prefixes,
// timestamps, CRLF, vendored paths, arm64 addresses). In a goroutine dump
// (SIGQUIT, which the harness sends a stuck reader) it finds the goroutine
// that was at work and StuckIn names the call it was in.
//
// The race engine uses it to classify reader deaths; `mapchaos explain`
// uses it on traces from production.
package crashes
