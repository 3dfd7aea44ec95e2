//go:build !amd64 && !arm64

package step

// supported reports whether stepping works on this architecture: the
// tables of trapped system calls exist for amd64 and arm64 only.
const supported = false

const auditArch = 0

func syscallNames() map[uint64]string { return nil }
