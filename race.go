package mapchaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/shell"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/writers"
)

// ErrWriterFailed is wrapped by the error of a Race whose writer failed: an
// updater that exited non-zero, hung past its timeout or did not install the
// new version. The Result is returned too, but its verdict says nothing
// about the readers' safety: the race stopped at the failed update.
var ErrWriterFailed = errors.New("the writer failed")

// Reader returns the registration of the built-in reader strategy called
// name: "mmap", "mmap-recover" or "bytes" (see readers.Builtin). For an
// unknown name it returns a registration that Race refuses, naming the
// known readers.
func Reader(name string) readers.Registration {
	if r, err := readers.Builtin().Lookup(name); err == nil {
		return r
	}
	return readers.Registration{Name: name}
}

// Race races the writer w against readers of strategy r, in real processes
// on a real file, and returns what the readers lived through. Match the
// result with the matchers package:
//
//	result, err := mapchaos.Race(ctx, writers.Command("./update.sh", "{new}", "{target}"), mapchaos.Reader("mmap"))
//	Expect(err).NotTo(HaveOccurred())
//	Expect(result).To(matchers.BeSafe())
//
// w is usually a writers.Exec (your updater, see writers.Command) or a
// built-in writer such as writers.Rename{}. r is a built-in reader (see
// Reader) or a foreign one (readers.Foreign). By default Race makes
// DefaultUpdates updates with 2 running readers and 1 starting reader per
// update, on the default fixture pair (16 MiB, B smaller than A), generated
// once and cached (see fixtures.Generate); see the Options.
//
// The readers run as child processes of a mapchaos executable (`mapchaos
// reader`), so that a SIGBUS kills a child and not the test. Race finds it
// with FindBinary, unless ReaderBinary names it.
//
// The race runs in a fresh directory under os.TempDir, removed afterwards
// (see RunDir to keep it); the writer only ever touches the target there.
// Every child process is reaped before Race returns, also when ctx ends.
//
// The error is nil when the race ran to its end: then the Result's verdict
// is the readers' fate. It wraps ErrWriterFailed when the writer failed
// (the Result is returned too), engine.ErrHarness when the harness could
// not do its job, or ctx's error.
func Race(ctx context.Context, w writers.Writer, r readers.Registration, opts ...Option) (results.Result, error) {
	o := newOptions(opts)
	if w == nil {
		return results.Result{}, errors.New("mapchaos: race: no writer")
	}
	strat := strategy(w, o)
	fail := func(err error) (results.Result, error) {
		return results.Result{Writer: strat.Name, Reader: r.Name}, fmt.Errorf("mapchaos: race %s x %s: %w", strat.Name, r.Name, err)
	}
	if err := o.validate(); err != nil {
		return fail(err)
	}
	if x, ok := asExec(w); ok {
		if err := x.Validate(); err != nil {
			return fail(err)
		}
	}
	if r.Strategy == nil && r.Command == nil {
		_, err := readers.Builtin().Lookup(r.Name)
		if err == nil {
			err = fmt.Errorf("reader %q has no strategy: use mapchaos.Reader(%q)", r.Name, r.Name)
		}
		return fail(err)
	}
	bin, err := o.binary(ctx)
	if err != nil {
		return fail(err)
	}
	cache := o.cache
	if cache == "" {
		cache = fixtures.DefaultCacheDir()
	}
	pair, err := fixtures.Generate(ctx, o.fixture, cache)
	if err != nil {
		return fail(err)
	}
	dir, cleanup, err := o.dir()
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	run := &harness.Run{Plan: o.plan(strat, r), Pair: pair, Out: dir, Dir: func(harness.Combo) string { return dir },
		Self: bin, Repro: o.repro(w, r, pair.Spec), KeepData: o.runDir != ""}
	placed, err := run.Execute(ctx)
	if err != nil {
		return results.Result{Writer: strat.Name, Reader: r.Name}, fmt.Errorf("mapchaos: race %w", err)
	}
	res := placed[0].Report.Results[0].Result
	if res.WriterError != "" {
		return res, fmt.Errorf("mapchaos: race %s x %s: %w: %s", strat.Name, r.Name, ErrWriterFailed, res.WriterError)
	}
	return res, nil
}

// plan is the one combination of a Race: w against readers of r, with the
// race settings of o.
func (o options) plan(w writers.Strategy, r readers.Registration) harness.Plan {
	cfg := config.Default()
	cfg.Race.Updates, cfg.Race.Seed = o.updates, o.seed
	cfg.Race.RunningReaders, cfg.Race.StartingReaders = readersOr(o.running, 2), readersOr(o.starting, 1)
	return harness.Plan{Config: cfg, Combos: []harness.Combo{{Writer: w, Reader: r}}}
}

// readersOr is n readers, def for 0 (the default), none for -1.
func readersOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// asExec returns w as a writers.Exec, if it is one.
func asExec(w writers.Writer) (writers.Exec, bool) {
	switch x := w.(type) {
	case writers.Exec:
		return x, true
	case *writers.Exec:
		if x != nil {
			return *x, true
		}
	}
	return writers.Exec{}, false
}

// strategy names w and says what its target must look like: a built-in
// writer as registered, an Exec as "exec", anything else by its Go type.
func strategy(w writers.Writer, o options) writers.Strategy {
	s := writers.Strategy{Name: o.name, Writer: w}
	if _, ok := asExec(w); ok {
		if s.Name == "" {
			s.Name = "exec"
		}
	} else {
		for _, b := range writers.Builtin().All() {
			if reflect.TypeOf(b.Writer) == reflect.TypeOf(w) && b.Writer == w {
				s.Properties = b.Properties
				if s.Name == "" {
					s.Name = b.Name
				}
			}
		}
	}
	if s.Name == "" {
		s.Name = strings.TrimPrefix(fmt.Sprintf("%T", w), "*")
	}
	if o.symlink {
		s.SymlinkTarget = true
	}
	return s
}

func (o options) validate() error {
	var errs []error
	if o.updates < 1 {
		errs = append(errs, fmt.Errorf("Updates(%d): want at least 1", o.updates))
	}
	if o.running < -1 || o.starting < -1 || (o.running == -1 && o.starting == -1) {
		errs = append(errs, fmt.Errorf("Readers(%d, %d): want -1 (none), 0 (the default) or more, and at least one reader", o.running, o.starting))
	}
	if err := o.fixture.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dir returns the run directory and what removes it afterwards.
func (o options) dir() (string, func(), error) {
	if o.runDir != "" {
		d, err := filepath.Abs(o.runDir)
		if err != nil {
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return "", nil, fmt.Errorf("run directory: %w", err)
		}
		return d, func() {}, nil
	}
	d, err := os.MkdirTemp("", "mapchaos-race-")
	if err != nil {
		return "", nil, fmt.Errorf("run directory: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// repro is how Race was asked for, as the flags of a mapchaos command
// that races the same combination.
func (o options) repro(w writers.Writer, r readers.Registration, spec fixtures.Spec) harness.Repro {
	spec = spec.WithDefaults()
	rp := harness.Repro{Seed: o.seed, Updates: o.updates}
	if r.Command != nil {
		rp.ReaderCmd = shell.Join(r.Command)
	}
	if x, ok := asExec(w); ok {
		rp.WriterCmd = x.String()
		rp.Size, rp.Shape = fmt.Sprint(spec.Size), string(spec.Shape)
		if o.symlink {
			rp.TargetKind = "symlink"
		}
	}
	return rp
}

// binary returns the reader executable: ReaderBinary's, else FindBinary's.
func (o options) binary(ctx context.Context) (string, error) {
	if o.bin != "" {
		if _, err := exec.LookPath(o.bin); err != nil {
			return "", fmt.Errorf("ReaderBinary(%q): %w", o.bin, err)
		}
		return o.bin, nil
	}
	return FindBinary(ctx)
}

// mainPackage is what FindBinary builds.
const mainPackage = "github.com/mapchaos/mapchaos/cmd/mapchaos"

var built struct {
	sync.Mutex
	path string
}

// FindBinary returns the mapchaos executable that runs reader children:
// $MAPCHAOS_BIN if set, else `mapchaos` in $PATH, else one it builds with
// `go build github.com/mapchaos/mapchaos/cmd/mapchaos`, run in the current
// directory (so at the version your go.mod requires), into
// <user cache dir>/mapchaos/bin/mapchaos-<content hash>. It builds at most
// once per process while the file stays there; Go's build cache makes a
// build with nothing changed take about a second.
//
// Building needs the go command in $PATH and every module the command
// imports in your go.sum: add it as a tool, which also pins it,
//
//	go get -tool github.com/mapchaos/mapchaos/cmd/mapchaos
//
// A Ginkgo suite running in parallel calls FindBinary once, in
// SynchronizedBeforeSuite, and passes the path on with ReaderBinary.
func FindBinary(ctx context.Context) (string, error) {
	if p := os.Getenv("MAPCHAOS_BIN"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("$MAPCHAOS_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("mapchaos"); err == nil {
		return p, nil
	}
	built.Lock()
	defer built.Unlock()
	if built.path != "" {
		if _, err := os.Stat(built.path); err == nil {
			return built.path, nil
		}
	}
	p, err := build(ctx)
	if err != nil {
		return "", err
	}
	built.path = p
	return p, nil
}

// binCacheDir is where FindBinary keeps what it builds.
func binCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil && d != "" {
		return filepath.Join(d, "mapchaos", "bin")
	}
	return filepath.Join(os.TempDir(), "mapchaos-cache", "bin")
}

func build(ctx context.Context) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("no mapchaos executable for the reader processes: set $MAPCHAOS_BIN, put mapchaos in $PATH or use mapchaos.ReaderBinary; building one needs the go command, which is not in $PATH")
	}
	dir := binCacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build mapchaos: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("build mapchaos: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "mapchaos")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, mainPackage)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build mapchaos for the reader processes (go build %s): %w\n%s\nIf modules are missing from go.sum, add the command as a tool: go get -tool %s",
			mainPackage, err, strings.TrimSpace(string(msg)), mainPackage)
	}
	sum, err := fileSum(out)
	if err != nil {
		return "", fmt.Errorf("build mapchaos: %w", err)
	}
	final := filepath.Join(dir, "mapchaos-"+sum[:16])
	if err := os.Rename(out, final); err != nil {
		return "", fmt.Errorf("build mapchaos: %w", err)
	}
	return final, nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
