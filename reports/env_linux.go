//go:build linux

package reports

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// kernelRelease returns uname's release ("6.1.0-18-amd64"), or "" when
// uname fails.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// fsNames maps statfs(2) magic numbers to file system names.
var fsNames = map[uint32]string{
	0xEF53:     "ext4", // also ext2 and ext3
	0x01021994: "tmpfs",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x794c7630: "overlay",
	0x6969:     "nfs",
	0x2FC12FC1: "zfs",
	0x65735546: "fuse",
	0x01021997: "9p",
	0x858458F6: "ramfs",
	0xF2F52010: "f2fs",
	0xFE534D42: "smb2",
}

// fsType names the file system that holds dir: "ext4", "tmpfs" ..., its
// magic number in hex when it has no name here, or "unknown" when statfs
// fails.
func fsType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	// The field is int64, int32 or uint32 depending on the architecture;
	// the magic numbers are 32 bits.
	magic := uint32(st.Type)
	if name, ok := fsNames[magic]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", magic)
}
