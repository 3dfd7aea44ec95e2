package vm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kernels from 6.x on may ship their modules compressed (Debian's 6.12:
// every module is a .ko.xz). The guest init loads modules with a plain
// finit_module(2), so the cache keeps them decompressed (.ko): the init
// needs no decompressor and no MODULE_INIT_COMPRESSED_FILE (which only a
// kernel with CONFIG_MODULE_DECOMPRESS honours), and .modinfo can be read
// here to find the load order. Decompressing all 4347 modules of the
// 16 KiB-page kernel takes about 7 s (87 MiB to 351 MiB), once per cache
// entry.

// xzBatch is how many files one xz process decompresses.
const xzBatch = 512

// decompressModules replaces every .ko.xz under dir by its .ko, with
// xz(1) (Debian package xz-utils), a batch of files per process.
func decompressModules(ctx context.Context, dir string) error {
	var xzs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko.xz") {
			xzs = append(xzs, p)
		}
		return err
	})
	if err != nil || len(xzs) == 0 {
		return err
	}
	if _, err := exec.LookPath("xz"); err != nil {
		return fmt.Errorf("the kernel's modules are xz-compressed (%d .ko.xz) and xz is not in PATH: install the Debian package xz-utils: %w", len(xzs), err)
	}
	for len(xzs) > 0 {
		n := min(len(xzs), xzBatch)
		var errb bytes.Buffer
		cmd := exec.CommandContext(ctx, "xz", append([]string{"-d", "--"}, xzs[:n]...)...)
		cmd.Stderr = &errb
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("xz -d (%d kernel modules, the first %s): %w: %s", n, xzs[0], err, bytes.TrimSpace(errb.Bytes()))
		}
		xzs = xzs[n:]
	}
	return nil
}
