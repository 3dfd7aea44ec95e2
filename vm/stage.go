package vm

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Stage puts a copy of the file src at dst for the guest's disk image,
// creating dst's directory: a hard link when src is on the same file
// system, a copy otherwise.
func Stage(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", src, err)
	}
	if os.Link(src, dst) == nil {
		return nil
	}
	return StageCopy(src, dst)
}

// StageCopy copies src to dst (never a link: for files the caller will
// change, such as a config), creating dst's directory.
func StageCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("stage %s: %w", src, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("stage %s: %w", src, err)
	}
	return out.Close()
}
