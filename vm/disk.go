package vm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MakeExt4 creates img as a sparse ext4 file system holding a copy of the
// directory src, with at least freeMiB MiB free, using mkfs.ext4 -d
// (e2fsprogs 1.43 or later). No root is needed.
func MakeExt4(ctx context.Context, img, src string, freeMiB int) error {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
			if isExecutable(p) {
				mkfs, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkfs.ext4 not found (Debian package e2fsprogs): the guest's ext4 disk is made with it: %w", err)
	}
	used, err := treeSize(src)
	if err != nil {
		return fmt.Errorf("ext4 image: %w", err)
	}
	// Room for the copy, its metadata, the journal and freeMiB.
	mib := used>>20 + used>>24 + 64 + int64(freeMiB)
	cmd := exec.CommandContext(ctx, mkfs, "-q", "-F", "-t", "ext4", "-m", "0", "-L", "mapchaos",
		"-E", "root_owner=0:0", "-d", src, img, strconv.FormatInt(mib, 10)+"M")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mkfs.ext4 -d %s %s: %w: %s", src, img, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// treeSize adds up the sizes of the regular files under dir, each rounded
// up to 4 KiB.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += (info.Size() + 4095) &^ 4095
		return nil
	})
	return n, err
}
