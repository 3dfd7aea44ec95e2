package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/internal/atomicfile"
)

// KernelMeta is the Debian package whose dependency names the current
// arm64 cloud kernel (ext4 built in, virtio as modules): Arm64.KernelMeta.
const KernelMeta = "linux-image-cloud-arm64"

// UserlandPackage is the Debian package whose static busybox gives the
// guest /bin/sh and the usual tools: some specs run `sh -c` scripts.
const UserlandPackage = "busybox-static"

// entryFormat changes whenever a cache entry would hold other files; an
// entry of another format is fetched again. Format 3 keeps every module
// of the package (Kernel.ModuleOrder), not only the disk's.
const entryFormat = 3

// DiskModules are the modules the arm64 guest needs to see its virtio
// disk (Arm64.DiskModules); their dependencies are found from the modules'
// own .modinfo.
var DiskModules = Arm64.DiskModules

// Kernel is a cached kernel of one architecture: its image, the modules
// the guest loads, in load order, and a static busybox for the guest's
// /bin.
type Kernel struct {
	Format int `json:"format"`
	// Arch is the Debian architecture ("" in entries made before amd64:
	// arm64).
	Arch string `json:"arch,omitempty"`
	// PageSize is the kernel's page size in bytes (0 in entries made
	// before 16 KiB pages: 4096).
	PageSize int `json:"page_size,omitempty"`
	// Package and Version name the Debian package it came from.
	Package string `json:"package"`
	Version string `json:"version"`
	// Release is the kernel release (uname -r in the guest).
	Release string `json:"release"`
	// SHA256 is the digest of the .deb.
	SHA256 string `json:"sha256"`
	// Fetched is when it was downloaded (RFC 3339).
	Fetched string `json:"fetched"`
	// Modules are the file names in ModuleDir of the modules the guest
	// needs to see its disk, in load order. ModuleDir holds every other
	// module of the package too (ModuleOrder).
	Modules []string `json:"modules"`
	// Userland is the package and version of the busybox (UserlandPackage).
	Userland string `json:"userland"`
	// Dir is the cache entry (not stored).
	Dir string `json:"-"`
}

// Image is the path of the kernel Image (qemu -kernel).
func (k Kernel) Image() string { return filepath.Join(k.Dir, "vmlinuz") }

// ModuleDir holds every module of the kernel package, flat, as NAME.ko
// (NAME with "_" for "-").
func (k Kernel) ModuleDir() string { return filepath.Join(k.Dir, "modules") }

// ModuleOrder returns the file names in ModuleDir to load for the guest to
// see its disk and to have the named modules (e.g. "nfsd", "dm_log_writes"),
// each after the modules it depends on.
func (k Kernel) ModuleOrder(extra []string) ([]string, error) {
	if len(extra) == 0 {
		return k.Modules, nil
	}
	files, err := filepath.Glob(filepath.Join(k.ModuleDir(), "*.ko"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	mods := map[string]string{}
	for _, f := range files {
		mods[strings.TrimSuffix(filepath.Base(f), ".ko")] = f
	}
	names := make([]string, 0, len(k.Modules)+len(extra))
	for _, m := range k.Modules {
		names = append(names, strings.TrimSuffix(m, ".ko"))
	}
	for _, m := range extra {
		names = append(names, strings.ReplaceAll(m, "-", "_"))
	}
	order, err := LoadOrder(mods, names)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Release, err)
	}
	for i, name := range order {
		order[i] = name + ".ko"
	}
	return order, nil
}

// Busybox is the path of the static busybox.
func (k Kernel) Busybox() string { return filepath.Join(k.Dir, "busybox") }

// Fetcher downloads the kernel package of arch and the userland package
// (UserlandPackage) into dir and returns the paths of the two .debs.
type Fetcher interface {
	Fetch(ctx context.Context, arch Arch, dir string) (kernelDeb, userlandDeb string, err error)
}

// DefaultCacheDir is where the kernel is cached: $MAPCHAOS_VM_CACHE, else
// vm/ in $MAPCHAOS_CACHE, else mapchaos/vm in the user's cache directory,
// else mapchaos-cache/vm in the temporary directory.
func DefaultCacheDir() string {
	if d := os.Getenv("MAPCHAOS_VM_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("MAPCHAOS_CACHE"); d != "" {
		return filepath.Join(d, "vm")
	}
	if d, err := os.UserCacheDir(); err == nil && d != "" {
		return filepath.Join(d, "mapchaos", "vm")
	}
	return filepath.Join(os.TempDir(), "mapchaos-cache", "vm")
}

// currentFile names the cache entry in use for arch: kernel.json for
// arm64 with 4 KiB pages (as before amd64), kernel-<Arch.Key>.json for the
// others (kernel-amd64.json, kernel-arm64-16k.json).
func currentFile(a Arch) string {
	if k := a.orArm64().Key(); k != Arm64.Name {
		return "kernel-" + k + ".json"
	}
	return "kernel.json"
}

// CachedKernel returns the kernel of arch cached in cacheDir, if a complete
// one is there.
func CachedKernel(cacheDir string, arch Arch) (Kernel, bool) {
	arch = arch.orArm64()
	var cur struct {
		Dir string `json:"dir"`
	}
	b, err := os.ReadFile(filepath.Join(cacheDir, currentFile(arch)))
	if err != nil || json.Unmarshal(b, &cur) != nil || cur.Dir == "" || strings.ContainsAny(cur.Dir, `/\`) {
		return Kernel{}, false
	}
	dir := filepath.Join(cacheDir, cur.Dir)
	var k Kernel
	if b, err = os.ReadFile(filepath.Join(dir, "entry.json")); err != nil || json.Unmarshal(b, &k) != nil {
		return Kernel{}, false
	}
	k.Dir = dir
	if !k.complete() || k.arch() != arch.Name || k.Pages() != arch.Pages() {
		return Kernel{}, false
	}
	return k, true
}

// Pages is the kernel's page size in bytes.
func (k Kernel) Pages() int {
	if k.PageSize == 0 {
		return 4 << 10
	}
	return k.PageSize
}

// arch is the kernel's architecture name.
func (k Kernel) arch() string {
	if k.Arch == "" {
		return Arm64.Name
	}
	return k.Arch
}

// EnsureKernel returns the cached kernel, or fetches the package with f,
// extracts the Image and the disk modules into a new cache entry and
// makes it current. fetched says whether it downloaded. Concurrent callers
// may both download; each entry is complete before it is made current.
func EnsureKernel(ctx context.Context, cacheDir string, arch Arch, f Fetcher) (k Kernel, fetched bool, err error) {
	arch = arch.orArm64()
	if k, ok := CachedKernel(cacheDir, arch); ok {
		return k, false, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Kernel{}, false, fmt.Errorf("kernel cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return Kernel{}, false, fmt.Errorf("kernel cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	deb, userland, err := f.Fetch(ctx, arch, tmp)
	if err != nil {
		return Kernel{}, false, err
	}
	k, err = unpackKernel(ctx, arch, deb, userland, tmp)
	if err != nil {
		return Kernel{}, false, err
	}
	name := k.Package + "_" + k.Version
	dst := filepath.Join(cacheDir, name)
	err = os.Rename(filepath.Join(tmp, "entry"), dst)
	if isExist(err) && !entryComplete(dst) {
		// A broken entry of the same name (files removed by hand): replace it.
		if err = os.RemoveAll(dst); err == nil {
			err = os.Rename(filepath.Join(tmp, "entry"), dst)
		}
	}
	if err != nil && !isExist(err) {
		return Kernel{}, false, fmt.Errorf("kernel cache: %w", err)
	}
	cur, _ := json.Marshal(map[string]string{"dir": name})
	if err := atomicfile.Write(filepath.Join(cacheDir, currentFile(arch)), cur, 0o644); err != nil {
		return Kernel{}, false, fmt.Errorf("kernel cache: %w", err)
	}
	k, ok := CachedKernel(cacheDir, arch)
	if !ok {
		return Kernel{}, false, fmt.Errorf("kernel cache %s: the new entry %s is incomplete", cacheDir, name)
	}
	return k, true, nil
}

// isExist tells a rename that failed because the entry already exists
// (another process made it first).
func isExist(err error) bool {
	return errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY)
}

// entryComplete tells whether the cache entry dir is whole.
func entryComplete(dir string) bool {
	var k Kernel
	b, err := os.ReadFile(filepath.Join(dir, "entry.json"))
	if err != nil || json.Unmarshal(b, &k) != nil {
		return false
	}
	k.Dir = dir
	return k.complete()
}

func (k Kernel) complete() bool {
	if k.Format != entryFormat {
		return false
	}
	for _, p := range []string{k.Image(), k.Busybox()} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			return false
		}
	}
	for _, m := range k.Modules {
		if _, err := os.Stat(filepath.Join(k.ModuleDir(), m)); err != nil {
			return false
		}
	}
	return len(k.Modules) > 0
}

// debName parses the name apt-get gives a .deb (":" of an epoch is
// written "%3a").
var debName = regexp.MustCompile(`^([a-z0-9][a-z0-9+.-]*)_([^_]+)_([a-z0-9]+)\.deb$`)

func parseDebName(deb, wantPrefix string, arch Arch) (pkg, version string, err error) {
	m := debName.FindStringSubmatch(filepath.Base(deb))
	if m == nil || !strings.HasPrefix(m[1], wantPrefix) || m[3] != arch.orArm64().Name {
		return "", "", fmt.Errorf("package %s: not an %s %s .deb", filepath.Base(deb), arch.orArm64().Name, wantPrefix)
	}
	return m[1], strings.ReplaceAll(m[2], "%3a", ":"), nil
}

// dpkgExtract unpacks deb into dir with dpkg-deb.
func dpkgExtract(ctx context.Context, deb, dir string) error {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return fmt.Errorf("dpkg-deb not found (Debian package dpkg): it unpacks the kernel package: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", filepath.Base(deb), err, bytes.TrimSpace(out))
	}
	return nil
}

// unpackKernel extracts the two packages (with dpkg-deb) under tmp and
// builds the cache entry in tmp/entry.
func unpackKernel(ctx context.Context, arch Arch, deb, userland, tmp string) (Kernel, error) {
	pkg, version, err := parseDebName(deb, "linux-image-", arch)
	if err != nil {
		return Kernel{}, err
	}
	k := Kernel{Format: entryFormat, Arch: arch.Name, PageSize: arch.PageSize, Package: pkg, Version: version, Fetched: time.Now().UTC().Format(time.RFC3339)}
	data, err := os.ReadFile(deb)
	if err != nil {
		return k, fmt.Errorf("kernel package: %w", err)
	}
	sum := sha256.Sum256(data)
	k.SHA256 = hex.EncodeToString(sum[:])
	x := filepath.Join(tmp, "x")
	if err := dpkgExtract(ctx, deb, x); err != nil {
		return k, err
	}
	images, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return k, fmt.Errorf("kernel package %s: want one boot/vmlinuz-*, found %d", filepath.Base(deb), len(images))
	}
	k.Release = strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	entry := filepath.Join(tmp, "entry")
	if err := os.MkdirAll(filepath.Join(entry, "modules"), 0o755); err != nil {
		return k, err
	}
	if err := os.Rename(images[0], filepath.Join(entry, "vmlinuz")); err != nil {
		return k, fmt.Errorf("kernel cache: %w", err)
	}
	if cfg := filepath.Join(x, "boot", "config-"+k.Release); fileExists(cfg) {
		if err := checkPageSize(cfg, arch, filepath.Base(deb)); err != nil {
			return k, err
		}
		_ = os.Rename(cfg, filepath.Join(entry, "config"))
	}
	if err := decompressModules(ctx, filepath.Join(x, "lib", "modules", k.Release)); err != nil {
		return k, err
	}
	mods, err := indexModules(filepath.Join(x, "lib", "modules", k.Release))
	if err != nil {
		return k, err
	}
	order, err := LoadOrder(mods, arch.DiskModules)
	if err != nil {
		return k, fmt.Errorf("kernel %s: %w", k.Release, err)
	}
	for name, p := range mods {
		if err := os.Rename(p, filepath.Join(entry, "modules", name+".ko")); err != nil {
			return k, fmt.Errorf("kernel cache: %w", err)
		}
	}
	for _, name := range order {
		k.Modules = append(k.Modules, name+".ko")
	}
	upkg, uversion, err := parseDebName(userland, UserlandPackage, arch)
	if err != nil {
		return k, err
	}
	k.Userland = upkg + " " + uversion
	ux := filepath.Join(tmp, "userland")
	if err := dpkgExtract(ctx, userland, ux); err != nil {
		return k, err
	}
	if err := os.Rename(filepath.Join(ux, "bin", "busybox"), filepath.Join(entry, "busybox")); err != nil {
		return k, fmt.Errorf("package %s has no bin/busybox: %w", filepath.Base(userland), err)
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(filepath.Join(entry, "entry.json"), append(b, '\n'), 0o644); err != nil {
		return k, fmt.Errorf("kernel cache: %w", err)
	}
	return k, nil
}

// indexModules maps module names to the .ko files under dir.
func indexModules(dir string) (map[string]string, error) {
	mods := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			name := strings.ReplaceAll(strings.TrimSuffix(d.Name(), ".ko"), "-", "_")
			mods[name] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	return mods, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// checkPageSize refuses an arm64 kernel whose config (boot/config-REL)
// does not give the page size arch asks for (Arch.PageSize set).
func checkPageSize(cfg string, arch Arch, deb string) error {
	if arch.Name != Arm64.Name || arch.PageSize == 0 {
		return nil
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		return fmt.Errorf("kernel package %s: %w", deb, err)
	}
	want := fmt.Sprintf("CONFIG_ARM64_%dK_PAGES=y", arch.Pages()/1024)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == want {
			return nil
		}
	}
	return fmt.Errorf("kernel package %s is not built for %s pages (its config lacks %s)", deb, PageSizeName(arch.Pages()), want)
}
