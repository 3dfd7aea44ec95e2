//go:build !linux

package reports

// kernelRelease is not implemented outside Linux.
func kernelRelease() string { return "" }

// fsType is not implemented outside Linux.
func fsType(string) string { return "unknown" }
