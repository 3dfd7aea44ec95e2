package vm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/internal/lines"
)

// Apt fetches Debian packages of a guest architecture with apt-get as
// configured on the host (its sources and proxies), without adding the
// architecture to dpkg: the package lists, the dpkg status (empty) and the
// archives are private directories under the fetch's own directory.
type Apt struct {
	// Meta is the metapackage whose dependency names the kernel
	// (default the architecture's KernelMeta).
	Meta string
	// Log receives apt's output (nil: discarded).
	Log io.Writer
}

// apt runs apt-get and apt-cache for one architecture with private state
// under dir.
type apt struct {
	dir  string
	arch Arch
	log  io.Writer
	// parts, when set, replaces the host's sources.list.d: links to the
	// host's files plus a suite added for one fetch (addSuite).
	parts string
}

// newApt makes the private directories and checks that apt-get is there.
func newApt(dir string, arch Arch, log io.Writer) (apt, error) {
	a := apt{dir: dir, arch: arch.orArm64(), log: log}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return a, fmt.Errorf("apt-get not found: the guest's %s packages are fetched with apt-get (Debian or Ubuntu host): %w", a.arch.Name, err)
	}
	for _, d := range []string{"lists/partial", "cache/archives/partial", "deb"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return a, fmt.Errorf("apt: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), nil, 0o644); err != nil {
		return a, fmt.Errorf("apt: %w", err)
	}
	return a, nil
}

func (a apt) options() []string {
	o := []string{
		"-oAPT::Architecture=" + a.arch.Name, "-oAPT::Architectures=" + a.arch.Name,
		"-oDir::State::Lists=" + filepath.Join(a.dir, "lists"),
		"-oDir::State::status=" + filepath.Join(a.dir, "status"),
		"-oDir::Cache=" + filepath.Join(a.dir, "cache"),
		"-oAcquire::Languages=none", "-oAPT::Get::List-Cleanup=false",
		"-oAcquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
		"-oAcquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
		"-oAcquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
		"-oAcquire::IndexTargets::deb::CNF::DefaultEnabled=false",
		"-oDebug::NoLocking=true", "-qq",
	}
	if a.parts != "" {
		o = append(o, "-oDir::Etc::SourceParts="+a.parts)
	}
	return o
}

// run runs an apt command (args[0] is apt-get or apt-cache) in cwd and
// returns its standard output.
func (a apt) run(ctx context.Context, cwd string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], append(a.options(), args[1:]...)...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if a.log != nil {
		cmd.Stdout = io.MultiWriter(&out, a.log)
		cmd.Stderr = io.MultiWriter(&errb, a.log)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s (%s): %w: %s", strings.Join(args, " "), a.arch.Name, err, lines.Last(errb.String()+out.String(), 6))
	}
	return out.String(), nil
}

// update fetches the package lists.
func (a apt) update(ctx context.Context) error {
	_, err := a.run(ctx, a.dir, "apt-get", "update")
	return err
}

// Fetch runs apt-get update, apt-cache depends and apt-get download for
// arch with private state and cache directories under dir.
func (f Apt) Fetch(ctx context.Context, arch Arch, dir string) (string, string, error) {
	a, err := newApt(dir, arch, f.Log)
	if err != nil {
		return "", "", err
	}
	meta := f.Meta
	if meta == "" {
		meta = a.arch.KernelMeta
	}
	if err := a.update(ctx); err != nil {
		return "", "", err
	}
	if a.arch.KernelSuite != "" {
		if a, err = a.addSuite(ctx, a.arch.KernelSuite); err != nil {
			return "", "", err
		}
	}
	deps, err := a.run(ctx, dir, "apt-cache", "depends", meta)
	if err != nil {
		return "", "", err
	}
	pkg := ""
	for _, line := range strings.Split(deps, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			pkg = f[1]
			break
		}
	}
	if pkg == "" {
		return "", "", fmt.Errorf("apt-cache depends %s (%s) names no linux-image package:\n%s", meta, a.arch.Name, lines.Last(deps, 6))
	}
	debDir := filepath.Join(dir, "deb")
	if _, err := a.run(ctx, debDir, "apt-get", "download", pkg, UserlandPackage); err != nil {
		return "", "", err
	}
	var got []string
	for _, p := range []string{pkg, UserlandPackage} {
		debs, _ := filepath.Glob(filepath.Join(debDir, p+"_*_"+a.arch.Name+".deb"))
		if len(debs) != 1 {
			return "", "", fmt.Errorf("apt-get download %s left %d .deb files for it", p, len(debs))
		}
		got = append(got, debs[0])
	}
	return got[0], got[1], nil
}

// unlocatable finds the packages apt says it cannot find.
var unlocatable = regexp.MustCompile(`(?:Unable to locate package |Package '?)([a-z0-9][a-z0-9+.-]*)'?(?: has no installation candidate)?`)

// FetchPackages downloads pkgs and everything they depend on (not their
// recommendations) for arch into dir/cache/archives, resolved against an
// empty dpkg status, and returns the .deb files.
func (f Apt) FetchPackages(ctx context.Context, arch Arch, dir string, pkgs []string) ([]string, error) {
	a, err := newApt(dir, arch, f.Log)
	if err != nil {
		return nil, err
	}
	if err := a.update(ctx); err != nil {
		return nil, err
	}
	args := append([]string{"apt-get", "install", "--download-only", "--no-install-recommends", "-y"}, pkgs...)
	if _, err := a.run(ctx, dir, args...); err != nil {
		if m := unlocatable.FindStringSubmatch(err.Error()); m != nil && strings.Contains(err.Error(), "E: ") {
			return nil, fmt.Errorf("package %s is not on the configured Debian mirror for %s (apt-get install --download-only): %w", m[1], a.arch.Name, err)
		}
		return nil, err
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "cache", "archives", "*.deb"))
	if len(debs) == 0 {
		return nil, fmt.Errorf("apt-get install --download-only %s (%s) downloaded nothing", strings.Join(pkgs, " "), a.arch.Name)
	}
	for _, d := range debs {
		if !a.arch.debArch(filepath.Base(d)) {
			return nil, fmt.Errorf("apt-get downloaded %s, which is not an %s package", filepath.Base(d), a.arch.Name)
		}
	}
	return debs, nil
}
