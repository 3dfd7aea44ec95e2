package vm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxPackedFile is the largest file Pack takes; bigger ones (a leftover
// database copy) are listed in SkippedFile instead, so the console stays
// fast.
const MaxPackedFile = 8 << 20

// SkippedFile is the name, in a packed archive, of the list of files that
// were too big to send.
const SkippedFile = ".mapchaos-skipped"

// Pack returns a gzipped tar of the files and directories in paths
// (directories recursively; missing paths are skipped). Entry names are
// relative to base for paths under base, otherwise the path without its
// leading "/".
func Pack(base string, paths []string) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var skipped []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			name := packName(base, path)
			if name == "" {
				return nil
			}
			link := ""
			switch {
			case info.Mode().IsRegular() && info.Size() > MaxPackedFile:
				skipped = append(skipped, fmt.Sprintf("%s (%d bytes)", name, info.Size()))
				return nil
			case info.Mode()&fs.ModeSymlink != 0:
				if link, err = os.Readlink(path); err != nil {
					return err
				}
			case !info.Mode().IsRegular() && !info.IsDir():
				return nil // sockets, devices: nothing to send
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			hdr.Name = name
			if info.IsDir() {
				hdr.Name += "/"
			}
			hdr.Uname, hdr.Gname = "", ""
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.CopyN(tw, f, info.Size())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", p, err)
		}
	}
	if len(skipped) > 0 {
		text := []byte("too big to send from the guest:\n" + strings.Join(skipped, "\n") + "\n")
		if err := tw.WriteHeader(&tar.Header{Name: SkippedFile, Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg}); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		if _, err := tw.Write(text); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return buf.Bytes(), nil
}

func packName(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	if path == base {
		return ""
	}
	return strings.TrimLeft(filepath.ToSlash(path), "/")
}

// Unpack extracts an archive made by Pack into dst. Names that would
// leave dst are an error.
func Unpack(data []byte, dst string) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("unpack: entry %q leaves the directory", hdr.Name)
		}
		target := filepath.Join(dst, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
				_ = os.Remove(target)
				err = os.Symlink(hdr.Linkname, target)
			}
		case tar.TypeReg:
			err = unpackFile(target, hdr, tr)
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
	}
}

func unpackFile(target string, hdr *tar.Header, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fs.FileMode(hdr.Mode).Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
