//go:build amd64 || arm64

package step

import "golang.org/x/sys/unix"

// supported reports whether stepping works on this architecture.
const supported = true

// commonSyscalls are the system calls the harness traps on every supported
// architecture: those that can change a file or a directory, those that
// make changes durable (recorded, for crash states after power loss), and
// those that would change a file behind the harness's back (warned about).
var commonSyscalls = map[uint64]string{
	unix.SYS_OPENAT:          "openat",
	unix.SYS_OPENAT2:         "openat2",
	unix.SYS_WRITE:           "write",
	unix.SYS_PWRITE64:        "pwrite64",
	unix.SYS_WRITEV:          "writev",
	unix.SYS_PWRITEV:         "pwritev",
	unix.SYS_PWRITEV2:        "pwritev2",
	unix.SYS_COPY_FILE_RANGE: "copy_file_range",
	unix.SYS_SENDFILE:        "sendfile",
	unix.SYS_SPLICE:          "splice",
	unix.SYS_FTRUNCATE:       "ftruncate",
	unix.SYS_TRUNCATE:        "truncate",
	unix.SYS_FALLOCATE:       "fallocate",
	unix.SYS_RENAMEAT:        "renameat",
	unix.SYS_RENAMEAT2:       "renameat2",
	unix.SYS_UNLINKAT:        "unlinkat",
	unix.SYS_LINKAT:          "linkat",
	unix.SYS_SYMLINKAT:       "symlinkat",
	unix.SYS_MKDIRAT:         "mkdirat",
	unix.SYS_FCHMOD:          "fchmod",
	unix.SYS_FCHMODAT:        "fchmodat",
	unix.SYS_FCHMODAT2:       "fchmodat2",
	unix.SYS_IOCTL:           "ioctl",
	unix.SYS_FSYNC:           "fsync",
	unix.SYS_FDATASYNC:       "fdatasync",
	unix.SYS_SYNC_FILE_RANGE: "sync_file_range",
	unix.SYS_SYNCFS:          "syncfs",
	unix.SYS_MMAP:            "mmap",
	unix.SYS_IO_URING_SETUP:  "io_uring_setup",
}

// syscallNames maps the numbers of the trapped system calls of the native
// architecture to their names.
func syscallNames() map[uint64]string {
	m := make(map[uint64]string, len(commonSyscalls)+len(archSyscalls))
	for nr, name := range commonSyscalls {
		m[nr] = name
	}
	for nr, name := range archSyscalls {
		m[nr] = name
	}
	return m
}
