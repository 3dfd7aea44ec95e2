package reports

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// CaptureRun describes the environment this process runs in, for a run
// whose target lives in dir: GOOS, GOARCH, kernel release, page size, the
// file system type of dir, the Go version, the versions of the modules that
// matter (maxminddb, ginkgo, gomega, golang.org/x/sys and the
// main module), the host name and the time now. Emulation is "none": a
// caller that runs under emulation says so itself. Seed, Mode and the
// duration are left for the caller. What cannot be learnt is left empty
// (or "unknown" where the report needs a word).
func CaptureRun(dir string) Run {
	host, _ := os.Hostname()
	return Run{
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		Emulation: "none",
		Kernel:    kernelRelease(),
		PageSize:  os.Getpagesize(),
		FS:        fsType(dir),
		Go:        runtime.Version(),
		Modules:   moduleVersions(),
		Started:   time.Now().UTC().Format(time.RFC3339),
		Host:      host,
	}
}

// moduleKeys are the substrings of the module paths a report records.
var moduleKeys = []string{"maxminddb", "ginkgo", "gomega", "golang.org/x/sys"}

// moduleVersions returns the versions of the main module and of the
// dependencies that matter to a report, from the build information.
//
// Test binaries (a suite calling CaptureRun from ReportAfterSuite) carry no
// dependency information (golang/go#33976); for them the versions are read
// from the main module's go.mod, found from the working directory up, which
// lists the version of every module the build used.
func moduleVersions() map[string]string {
	mods := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return mods
	}
	if info.Main.Path != "" {
		mods[info.Main.Path] = mainVersion(info)
	}
	deps := info.Deps
	if len(deps) == 0 && info.Main.Path != "" {
		deps = goModDeps(info.Main.Path)
	}
	for _, d := range deps {
		if !containsAny(d.Path, moduleKeys) {
			continue
		}
		v := d.Version
		if r := d.Replace; r != nil {
			v += " => " + strings.TrimSpace(r.Path+" "+r.Version)
		}
		mods[d.Path] = v
	}
	return mods
}

// goModDeps reads the requirements of module mainPath from the first
// go.mod at or above the working directory, if it is that module's.
func goModDeps(mainPath string) []*debug.Module {
	data, ok := findGoMod(mainPath)
	if !ok {
		return nil
	}
	return parseGoMod(data)
}

// parseGoMod returns the requirements in a go.mod, with their replacements.
// It understands what go mod tidy writes: require and replace directives,
// single-line or in blocks, and comments.
func parseGoMod(data string) []*debug.Module {
	var deps []*debug.Module
	replaces := map[string]*debug.Module{}
	directive := func(verb string, f []string) {
		switch {
		case verb == "require" && len(f) >= 2:
			deps = append(deps, &debug.Module{Path: f[0], Version: f[1]})
		case verb == "replace":
			// old [version] => new [version]
			i := slices.Index(f, "=>")
			if i < 1 || i+1 >= len(f) {
				return
			}
			r := &debug.Module{Path: f[i+1]}
			if i+2 < len(f) {
				r.Version = f[i+2]
			}
			replaces[f[0]] = r
		}
	}
	block := ""
	for _, line := range strings.Split(data, "\n") {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case block != "" && f[0] == ")":
			block = ""
		case block != "":
			directive(block, f)
		case len(f) == 2 && f[1] == "(":
			block = f[0]
		default:
			directive(f[0], f[1:])
		}
	}
	for _, d := range deps {
		d.Replace = replaces[d.Path]
	}
	return deps
}

// findGoMod returns the content of the first go.mod at or above the working
// directory when it declares module mainPath.
func findGoMod(mainPath string) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
					return string(data), strings.Trim(f[1], `"`) == mainPath
				}
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// mainVersion is the main module's version, with the VCS revision when the
// build recorded one: "(devel) 1a2b3c4d5e6f+dirty".
func mainVersion(info *debug.BuildInfo) string {
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v = strings.TrimSpace(v + " " + rev + dirty)
	}
	return v
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
