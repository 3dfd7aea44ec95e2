// Package skips reads the JSON report of a Ginkgo run (ginkgo --json-report)
// and lists the specs that were skipped, each with its reason, so that a
// skip cannot pass unseen: make test prints the list at the end of the run
// (cmd/mapchaos-skips).
//
// A reason is allowed when no package can fix it (no pseudo-terminals or
// /dev/shm in a container, a kernel without PTRACE_SET_SYSCALL_INFO, a
// host that is not Linux ...): Allowlist names each one and why. Under CI
// every other skip, a missing tool (internal/needs) or a matrix combination
// without an expectation included, makes the run fail.
//
// Specs that a filter left out (--focus, --label-filter, --skip) carry no
// reason; they are counted, not listed. A spec skipped because an earlier
// spec of its Ordered container failed is listed but allowed: the failure
// itself fails the run. A spec skipped because Skip() was called in a
// BeforeAll gets the reason of the spec that ran that BeforeAll.
package skips
