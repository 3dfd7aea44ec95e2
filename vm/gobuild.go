package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/internal/lines"
)

// DefaultModule is the module path of mapchaos, used when the running
// binary carries no build information.
const DefaultModule = "github.com/mapchaos/mapchaos"

// Source is a module's source tree and the Go toolchain that builds it for
// the guest (linux/arm64, static, CGO_ENABLED=0).
type Source struct {
	// Root is the directory holding the module's go.mod.
	Root string
	// Module is the module path.
	Module string
	// Go is the path of the go command.
	Go string
	// GOARCH is the architecture it builds for ("": arm64).
	GOARCH string
}

func (s Source) goarch() string {
	if s.GOARCH == "" {
		return Arm64.Name
	}
	return s.GOARCH
}

// FindSource locates the Go toolchain and the source of the running
// module: $MAPCHAOS_SRC when set, else the first directory at or above cwd
// whose go.mod declares the module, else the directory this package was
// compiled from (recorded in the binary), if it still holds that go.mod.
func FindSource(cwd string) (Source, error) {
	s := Source{Module: DefaultModule}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Path != "" && info.Main.Path != "command-line-arguments" {
		s.Module = info.Main.Path
	}
	goCmd, err := findGo()
	if err != nil {
		return s, err
	}
	s.Go = goCmd
	if env := os.Getenv("MAPCHAOS_SRC"); env != "" {
		if !declares(env, s.Module) {
			return s, fmt.Errorf("MAPCHAOS_SRC=%s: no go.mod declaring module %s there", env, s.Module)
		}
		s.Root, _ = filepath.Abs(env)
		return s, nil
	}
	for dir := cwd; ; {
		if declares(dir, s.Module) {
			s.Root = dir
			return s, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	compiled := ""
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		compiled = filepath.Dir(filepath.Dir(file))
		if declares(compiled, s.Module) {
			s.Root = compiled
			return s, nil
		}
	}
	where := "at or above " + cwd
	if compiled != "" {
		where += ", nor in " + compiled + " (where this binary was built)"
	}
	return s, fmt.Errorf("cannot find the source of %s to build it for linux/arm64: no go.mod declaring it %s; run from inside the source tree or set MAPCHAOS_SRC", s.Module, where)
}

// findGo returns the go command: from PATH, else $GOROOT/bin/go.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if dir := os.Getenv("GOROOT"); dir != "" {
		if p := filepath.Join(dir, "bin", "go"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("the Go toolchain (go) is not in PATH: --arch arm64 builds the harness for linux/arm64 from its source; install Go or put it in PATH (e.g. /usr/local/go/bin)")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// declares tells whether dir/go.mod declares module mod.
func declares(dir, mod string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == mod
		}
	}
	return false
}

// Build compiles package pkg (relative to the module root, e.g.
// "./cmd/mapchaos") for linux/arm64 into out.
func (s Source) Build(ctx context.Context, pkg, out string, flags ...string) error {
	return s.goCmd(ctx, append(append([]string{"build"}, flags...), "-o", out, pkg)...)
}

// TestBinary compiles the tests of package pkg for linux/arm64 into out
// (go test -c). A package without tests is an error.
func (s Source) TestBinary(ctx context.Context, pkg, out string) error {
	if err := s.goCmd(ctx, "test", "-c", "-o", out, pkg); err != nil {
		return err
	}
	if _, err := os.Stat(out); err != nil {
		return fmt.Errorf("go test -c %s wrote no test binary (a package without tests?)", pkg)
	}
	return nil
}

// UsesGinkgo tells whether the tests of package pkg are a Ginkgo suite
// (so that their binary takes -ginkgo.* flags).
func (s Source) UsesGinkgo(ctx context.Context, pkg string) (bool, error) {
	out, err := s.output(ctx, "list", "-f", `{{join .TestImports "\n"}}{{"\n"}}{{join .XTestImports "\n"}}`, pkg)
	if err != nil {
		return false, err
	}
	for _, imp := range strings.Fields(out) {
		if imp == "github.com/onsi/ginkgo/v2" {
			return true, nil
		}
	}
	return false, nil
}

func (s Source) goCmd(ctx context.Context, args ...string) error {
	_, err := s.output(ctx, args...)
	return err
}

// output runs go for linux/arm64 in the module root and returns its
// standard output.
func (s Source) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Go, args...)
	cmd.Dir = s.Root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+s.goarch(), "CGO_ENABLED=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("GOARCH=%s CGO_ENABLED=0 go %s (in %s): %w\n%s", s.goarch(), strings.Join(args, " "), s.Root, err, lines.Last(errb.String()+out.String(), 20))
	}
	return out.String(), nil
}
