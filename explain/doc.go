// Package explain reads a crash trace pasted from production and says, in
// plain words, what happened, the likely cause, which combinations of the
// matrix reproduce the same signature, and how to fix it.
//
// Analyze is a pure function of the text and of the known combinations
// (Known derives them from a resolved matrix, that is from the expectations
// of ginkgo.yml): the same input gives the same Explanation, which renders
// as text (Explanation.Text) or JSON. Its time is linear in the size of
// the text (50 MiB of log take 0.6 to 1.7 s of processor time on a 2 vCPU
// machine: see BenchmarkExplain50MB), and it stops, with an error, when
// its context ends. Compare checks a combination observed
// by a real run against the pasted signature (signal, si_code, library).
//
// It recognises a Go `fatal error: fault` trace, a fault that
// debug.SetPanicOnFault turned into a panic (recovered, re-panicked or not
// recovered), and a foreign process killed by SIGBUS or SIGSEGV (a shell's
// "Bus error (core dumped)", os/exec's "signal: bus error", exit status 135,
// systemd's status=7/BUS, a kernel segfault line, gdb, Python's
// faulthandler, the JVM). It copes with what pasting does to a trace: log
// prefixes and timestamps (CRI, journald, docker compose, kubectl --prefix,
// JSON log lines), CRLF, ANSI colours, lines wrapped by a log system, a
// trace cut at the top or the bottom, spaces instead of tabs, vendored
// paths, arm64 addresses. Anything else it reports as "no memory fault
// found", with what it did find (a nil map write, a deadlock, an OOM kill).
//
// Caveats: a recovered fault's text ("invalid memory address or nil pointer
// dereference") is the same for a SIGBUS and a nil dereference; only
// runtime.Error's Addr(), when the program logged it, or the frames tell
// them apart, so Analyze says "most likely". A death by signal without its
// si_code (a shell's message) cannot tell truncation (BUS_ADRERR) from an
// I/O error (BUS_OBJERR).
package explain
