package step

import "golang.org/x/sys/unix"

// auditArch is the AUDIT_ARCH_* value of native system calls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// archSyscalls is empty: arm64 has only the *at forms of the path-based
// calls.
var archSyscalls = map[uint64]string{}
