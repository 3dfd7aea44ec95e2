package step

import "golang.org/x/sys/unix"

// auditArch is the AUDIT_ARCH_* value of native system calls.
const auditArch = unix.AUDIT_ARCH_X86_64

// archSyscalls are the legacy path-based calls amd64 still has (arm64 has
// only the *at forms).
var archSyscalls = map[uint64]string{
	unix.SYS_OPEN:    "open",
	unix.SYS_CREAT:   "creat",
	unix.SYS_RENAME:  "rename",
	unix.SYS_UNLINK:  "unlink",
	unix.SYS_RMDIR:   "rmdir",
	unix.SYS_LINK:    "link",
	unix.SYS_SYMLINK: "symlink",
	unix.SYS_MKDIR:   "mkdir",
	unix.SYS_CHMOD:   "chmod",
}
