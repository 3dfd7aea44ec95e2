package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RootPackages are the Debian packages the guest's root file system is
// made of (with their dependencies, not their recommendations): the C
// library, the usual tools (coreutils, dash as /bin/sh, bash, grep, sed,
// findutils, util-linux, mount, procps), e2fsprogs, rsync, python3 with
// python3-maxminddb (the foreign reader), kmod and iproute2, and the NFS
// server's and client's userland.
var RootPackages = []string{
	"libc6", "base-files", "base-passwd", "coreutils", "dash", "bash", "grep", "sed", "findutils", "gzip", "tar",
	"diffutils", "util-linux", "mount", "procps", "e2fsprogs", "rsync", "python3", "python3-maxminddb",
	"kmod", "iproute2", "nfs-kernel-server", "nfs-common", "rpcbind", "dmsetup", "xfsprogs", "btrfs-progs",
}

// rootFormat changes whenever a root entry would be built differently.
const rootFormat = 1

// RootImageFile is the name of the ext4 image in a root cache entry.
const RootImageFile = "root.ext4"

// Rootfs is a cached guest root file system: an ext4 image of Debian
// packages of one architecture, unpacked without running their maintainer
// scripts.
type Rootfs struct {
	Format int    `json:"format"`
	Arch   string `json:"arch"`
	// Requested are the packages asked for; Packages every package in
	// the image, "name version".
	Requested []string `json:"requested"`
	Packages  []string `json:"packages"`
	// Fetched is when it was built (RFC 3339); DownloadMiB the size of
	// the .debs, SizeMiB that of the unpacked tree.
	Fetched     string `json:"fetched"`
	DownloadMiB int64  `json:"download_mib"`
	SizeMiB     int64  `json:"size_mib"`
	// Dir is the cache entry (not stored).
	Dir string `json:"-"`
}

// Image is the ext4 image of the root (attached read-only).
func (r Rootfs) Image() string { return filepath.Join(r.Dir, RootImageFile) }

// PackageFetcher downloads Debian packages of arch with their
// dependencies into dir and returns the .deb files (Apt does).
type PackageFetcher interface {
	FetchPackages(ctx context.Context, arch Arch, dir string, pkgs []string) ([]string, error)
}

// rootEntryName names the cache entry of a package list: a changed list is
// another entry.
func rootEntryName(arch Arch, pkgs []string) string {
	sorted := slices.Sorted(slices.Values(pkgs))
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\n%s", rootFormat, strings.Join(sorted, "\n"))))
	return "root-" + arch.Name + "-" + hex.EncodeToString(sum[:6])
}

// CachedRootfs returns the root of arch made of pkgs cached in cacheDir,
// if a complete one is there.
func CachedRootfs(cacheDir string, arch Arch, pkgs []string) (Rootfs, bool) {
	arch = arch.orArm64()
	dir := filepath.Join(cacheDir, rootEntryName(arch, pkgs))
	var r Rootfs
	b, err := os.ReadFile(filepath.Join(dir, "entry.json"))
	if err != nil || json.Unmarshal(b, &r) != nil || r.Format != rootFormat || r.Arch != arch.Name {
		return Rootfs{}, false
	}
	r.Dir = dir
	if st, err := os.Stat(r.Image()); err != nil || st.Size() == 0 {
		return Rootfs{}, false
	}
	return r, true
}

// EnsureRootfs returns the cached root of arch made of pkgs (nil:
// RootPackages), or builds it: fetches the packages with f into a
// temporary directory in cacheDir, unpacks them with dpkg-deb -x (no
// maintainer scripts), merges /bin, /sbin and /lib into /usr as Debian
// does, adds what the scripts would have (passwd, group, mount points),
// makes the ext4 image and renames the entry into place. A failed or
// interrupted build leaves nothing behind but its temporary directory,
// which is removed.
func EnsureRootfs(ctx context.Context, cacheDir string, arch Arch, pkgs []string, f PackageFetcher) (r Rootfs, built bool, err error) {
	arch = arch.orArm64()
	if pkgs == nil {
		pkgs = RootPackages
	}
	if r, ok := CachedRootfs(cacheDir, arch, pkgs); ok {
		return r, false, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return r, false, fmt.Errorf("root cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".root-")
	if err != nil {
		return r, false, fmt.Errorf("root cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	debs, err := f.FetchPackages(ctx, arch, filepath.Join(tmp, "apt"), pkgs)
	if err != nil {
		return r, false, err
	}
	r, err = buildRoot(ctx, arch, pkgs, debs, tmp)
	if err != nil {
		return r, false, err
	}
	dst := filepath.Join(cacheDir, rootEntryName(arch, pkgs))
	if err := os.Rename(filepath.Join(tmp, "entry"), dst); err != nil && !isExist(err) {
		return r, false, fmt.Errorf("root cache: %w", err)
	} else if err != nil {
		// Another process made it first, or a damaged entry is in the way.
		if _, ok := CachedRootfs(cacheDir, arch, pkgs); !ok {
			if err := os.RemoveAll(dst); err != nil {
				return r, false, fmt.Errorf("root cache: %w", err)
			}
			if err := os.Rename(filepath.Join(tmp, "entry"), dst); err != nil {
				return r, false, fmt.Errorf("root cache: %w", err)
			}
		}
	}
	r, ok := CachedRootfs(cacheDir, arch, pkgs)
	if !ok {
		return r, false, fmt.Errorf("root cache %s: the new entry %s is incomplete", cacheDir, filepath.Base(dst))
	}
	return r, true, nil
}

// buildRoot unpacks debs into tmp/tree and makes tmp/entry.
func buildRoot(ctx context.Context, arch Arch, pkgs, debs []string, tmp string) (Rootfs, error) {
	r := Rootfs{Format: rootFormat, Arch: arch.Name, Requested: slices.Sorted(slices.Values(pkgs)),
		Fetched: time.Now().UTC().Format(time.RFC3339)}
	tree := filepath.Join(tmp, "tree")
	var download int64
	for _, deb := range debs {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		m := debName.FindStringSubmatch(filepath.Base(deb))
		if m == nil || !arch.debArch(filepath.Base(deb)) {
			return r, fmt.Errorf("root: %s is not a Debian package of %s", filepath.Base(deb), arch.Name)
		}
		r.Packages = append(r.Packages, m[1]+" "+strings.ReplaceAll(m[2], "%3a", ":"))
		if st, err := os.Stat(deb); err == nil {
			download += st.Size()
		}
		if err := dpkgExtract(ctx, deb, tree); err != nil {
			return r, err
		}
	}
	r.DownloadMiB = download >> 20
	if err := mergeUsr(tree); err != nil {
		return r, fmt.Errorf("root: merge /usr: %w", err)
	}
	if err := finishRoot(tree); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	precompilePython(ctx, tree)
	size, err := treeSize(tree)
	if err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	r.SizeMiB = size >> 20
	entry := filepath.Join(tmp, "entry")
	if err := os.MkdirAll(entry, 0o755); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	if err := MakeExt4(ctx, filepath.Join(entry, RootImageFile), tree, 16); err != nil {
		return r, err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(entry, "entry.json"), append(b, '\n'), 0o644); err != nil {
		return r, fmt.Errorf("root cache: %w", err)
	}
	return r, nil
}

// mergeUsr moves /bin, /sbin and /lib (and /lib64) into /usr and leaves
// symlinks in their place, as a Debian bookworm system is laid out.
func mergeUsr(tree string) error {
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		top := filepath.Join(tree, d)
		st, err := os.Lstat(top)
		switch {
		case os.IsNotExist(err):
			if d == "lib64" {
				continue
			}
		case err != nil:
			return err
		case st.IsDir():
			if err := mergeInto(top, filepath.Join(tree, "usr", d)); err != nil {
				return err
			}
			if err := os.RemoveAll(top); err != nil {
				return err
			}
		default:
			continue // already a link
		}
		if err := os.MkdirAll(filepath.Join(tree, "usr", d), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("usr/"+d, top); err != nil {
			return err
		}
	}
	return nil
}

// mergeInto moves the entries of src into dst, recursively for
// directories on both sides; where both have a file, dst's is kept.
func mergeInto(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		dst, err := os.Lstat(d)
		switch {
		case os.IsNotExist(err):
			if err := os.Rename(s, d); err != nil {
				return err
			}
		case err != nil:
			return err
		case e.IsDir() && dst.IsDir():
			if err := mergeInto(s, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishRoot adds what the maintainer scripts would have made: the user
// and group databases (from base-passwd's masters), the mount points the
// guest init binds, and a few files programs look for.
func finishRoot(tree string) error {
	for _, c := range []struct{ master, etc string }{{"passwd.master", "passwd"}, {"group.master", "group"}} {
		dst := filepath.Join(tree, "etc", c.etc)
		if fileExists(dst) {
			continue
		}
		if err := StageCopy(filepath.Join(tree, "usr", "share", "base-passwd", c.master), dst); err != nil {
			return fmt.Errorf("%s (package base-passwd): %w", c.etc, err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "var/tmp", "var/lib/nfs",
		strings.TrimPrefix(GuestDisk, "/"), strings.TrimPrefix(GuestTmpfs, "/")} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/hostname":      "mapchaos-guest\n",
		"etc/hosts":         "127.0.0.1\tlocalhost mapchaos-guest\n::1\tlocalhost\n",
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\nrpc: files\n",
		"etc/fstab":         "",
		"etc/mtab":          "",
	}
	for name, text := range files {
		p := filepath.Join(tree, name)
		if fileExists(p) && name != "etc/mtab" {
			continue
		}
		_ = os.Remove(p)
		if name == "etc/mtab" {
			if err := os.Symlink("../proc/self/mounts", p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	// Documentation is no use in the guest.
	for _, d := range []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"} {
		if err := os.RemoveAll(filepath.Join(tree, d)); err != nil {
			return err
		}
	}
	return nil
}

// precompilePython compiles the guest's Python modules with the host's
// python3 when it is the same version (bytecode does not depend on the
// architecture): the guest's root is read-only, so without it every
// python3 start under emulation would compile what it imports. It is an
// optimisation only: any failure leaves the tree as it was.
func precompilePython(ctx context.Context, tree string) {
	libs, _ := filepath.Glob(filepath.Join(tree, "usr", "lib", "python3.*"))
	host, err := exec.LookPath("python3")
	if err != nil || len(libs) != 1 {
		return
	}
	ver, err := exec.CommandContext(ctx, host, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])").Output()
	if err != nil || strings.TrimSpace(string(ver)) != filepath.Base(libs[0]) {
		return
	}
	// -s/-p: record the paths the guest sees, not the build directory.
	args := []string{"-m", "compileall", "-q", "-j", "0", "-s", tree, "-p", "/",
		libs[0], filepath.Join(tree, "usr", "lib", "python3", "dist-packages")}
	cmd := exec.CommandContext(ctx, host, args...)
	cmd.WaitDelay = 5 * time.Second
	_ = cmd.Run()
}
