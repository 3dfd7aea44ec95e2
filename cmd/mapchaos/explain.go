package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/explain"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/input"
	"github.com/mapchaos/mapchaos/internal/progress"
)

// maxTrace is the most explain reads: a log larger than this is not a paste.
const maxTrace = 64 << 20

type explainFlags struct {
	config, out, fs      string
	seed                 int64
	json, reproduce, set bool
}

// explain reads a crash trace and says what happened and how to fix it.
// Exit status: 0 explained (or nothing found), 2 bad input, 3 the
// reproduction could not run.
func (a *app) explain(ctx context.Context, args []string) (int, error) {
	var f explainFlags
	fs := flag.NewFlagSet("mapchaos explain", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mapchaos explain [--json] [--reproduce] [--config ginkgo.yml] [--fs nfs4|nfs3] [--seed N] [--out DIR] [FILE|-]")
		fmt.Fprintln(fs.Output(), "Reads a crash trace (default: stdin) and says what happened, the likely cause, the combinations that reproduce it, and the fix.")
		fmt.Fprintf(fs.Output(), "It reads at most %s (a longer log: give the part around the crash); Ctrl-C stops it (exit 3).\n", input.Size(maxTrace))
		fs.PrintDefaults()
	}
	fs.StringVar(&f.config, "config", "ginkgo.yml", "the harness configuration whose expectations name the combinations that reproduce a fault")
	fs.BoolVar(&f.json, "json", false, "print the explanation as JSON (schema "+explain.Schema+")")
	fs.BoolVar(&f.reproduce, "reproduce", false, "race the combinations that should reproduce the fault, and compare what they show with the trace")
	fs.StringVar(&f.out, "out", "", "with --reproduce: keep the runs in a new directory under DIR (default: a temporary directory, removed afterwards)")
	fs.StringVar(&f.fs, "fs", "", "the file system the reader's file was on: nfs4 or nfs3 gives the advice for a volume shared over NFS (default: NFS when the trace says so)")
	fs.Int64Var(&f.seed, "seed", -1, "seed of the reproductions (default: race.seed of the config)")
	files, err := parseInterleaved(fs, args, a.stdout, a.stderr)
	if err != nil {
		return 0, err
	}
	fs.Visit(func(fl *flag.Flag) { f.set = f.set || fl.Name == "config" })
	if len(files) > 1 {
		return 0, usagef("one trace at a time: got %d arguments (%s)", len(files), strings.Join(files, " "))
	}
	if f.seed < -1 {
		return 0, usagef("--seed %d: want a non-negative number", f.seed)
	}
	if f.out != "" && !f.reproduce {
		return 0, usagef("--out is for --reproduce")
	}
	name, text, err := a.readTrace(ctx, files)
	if err != nil {
		return 0, err
	}

	cfg, err := loadConfig(ctx, matrixFlags{config: f.config, configSet: f.set})
	if err != nil {
		return 0, err
	}
	if f.seed >= 0 {
		cfg.Race.Seed = f.seed
	}
	plan, err := harness.Resolve(cfg, a.writers, a.readers, nil, nil)
	if err != nil {
		return 0, usageError{err}
	}
	repro := harness.Repro{Config: cfg.Path, Seed: cfg.Race.Seed}
	known := explain.Known(plan, builtinLibrary(), func(c harness.Combo) string { return repro.For(c.Writer.Name, c.Reader.Name) })
	x, err := explain.Analyze(ctx, text, known)
	if err != nil {
		return 0, err
	}
	if f.fs != "" {
		x.OnSharedVolume(f.fs)
	}
	a.sayConfig(cfg, f.json)
	if f.reproduce {
		if err := a.reproduce(ctx, f, cfg, plan, &x); err != nil {
			return 0, err
		}
	}
	if f.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			return 0, fmt.Errorf("encode the explanation of %s: %w", name, err)
		}
		return exitOK, nil
	}
	fmt.Fprint(a.stdout, x.Text())
	return exitOK, nil
}

// readTrace reads the trace from the named file, or stdin for none or "-",
// at most maxTrace bytes; ctx stops a read that blocks.
func (a *app) readTrace(ctx context.Context, files []string) (name, text string, err error) {
	const what = "a crash trace"
	var b []byte
	if len(files) == 0 || files[0] == "-" {
		name = "stdin"
		if progress.IsTerminal(a.stdin) {
			fmt.Fprintln(a.stderr, "mapchaos explain: paste the crash trace, then press Ctrl-D")
		}
		b, err = input.ReadAll(ctx, a.stdin, maxTrace, what)
	} else {
		name = files[0]
		b, err = input.ReadFile(ctx, name, maxTrace, what)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return name, "", err
	case errors.Is(err, input.ErrTooLarge):
		return name, "", usagef("%v: give the part of the log around the crash", err)
	case err != nil:
		return name, "", usagef("cannot read the trace: %v", err)
	}
	if err := explain.Validate(b); err != nil {
		return name, "", usagef("%s: %v", name, err)
	}
	return name, explain.Decode(b), nil
}

// reproduce races the combinations x names and records what they showed.
func (a *app) reproduce(ctx context.Context, f explainFlags, cfg config.Config, plan harness.Plan, x *explain.Explanation) error {
	r := &harness.Run{Plan: harness.Plan{Config: cfg, Combos: x.Matching(plan)}, Mode: harness.Race{}, Env: harness.Local{},
		Self: a.self, Repro: harness.Repro{Config: cfg.Path, Seed: cfg.Race.Seed}, Events: reproducing{w: a.stderr, seed: cfg.Race.Seed}}
	if len(r.Plan.Combos) == 0 {
		fmt.Fprintf(a.stderr, "mapchaos explain: --reproduce: nothing to race: %s\n", x.NothingToRace())
		return nil
	}
	dir, cleanup, err := reproduceDir(f.out)
	if err != nil {
		return err
	}
	defer cleanup()
	if r.Pair, err = harness.ResolveFixture(ctx, cfg.Fixture, cfg.Race.Seed, ""); err != nil {
		return fmt.Errorf("--reproduce: %w", err)
	}
	r.Out = dir
	placed, err := r.Execute(ctx)
	if err != nil {
		return fmt.Errorf("--reproduce: %w", err)
	}
	x.Record(r, placed[0].Report, f.out != "")
	if f.out == "" {
		return nil
	}
	if err := harness.Write(dir, placed); err != nil {
		return fmt.Errorf("--reproduce: %w", err)
	}
	fmt.Fprintf(a.stderr, "mapchaos explain: runs and report kept in %s\n", dir)
	return nil
}

// reproduceDir makes the directory of the reproductions: a new one under
// out (kept), or under the temporary directory (removed by cleanup).
func reproduceDir(out string) (dir string, cleanup func(), err error) {
	base := out
	if base == "" {
		base = os.TempDir()
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		return "", nil, usagef("--out %s: cannot create it: %v", base, err)
	}
	if base, err = filepath.Abs(base); err != nil {
		return "", nil, usagef("--out %s: %v", out, err)
	}
	if dir, err = os.MkdirTemp(base, "mapchaos-explain-"); err != nil {
		if out != "" {
			return "", nil, usagef("--out %s: cannot create a directory in it: %v", base, err)
		}
		return "", nil, fmt.Errorf("--reproduce: %w", err)
	}
	if out != "" {
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// reproducing tells on stderr which combination is being raced, and
// warnings; it hears nothing else.
type reproducing struct {
	harness.Quiet
	w    io.Writer
	seed int64
}

func (p reproducing) Begin(k, n int, c harness.Combo) {
	fmt.Fprintf(p.w, "mapchaos explain: racing %s (%d of %d, seed %d) ...\n", c.Name(), k, n, p.seed)
}

func (p reproducing) Warn(msg string) { fmt.Fprintf(p.w, "mapchaos explain: warning: %s\n", msg) }

// builtinLibrary names what the built-in readers read with, from the build
// information of this binary: "maxminddb-golang v1.13.1".
func builtinLibrary() string {
	const mod = "github.com/oschwald/maxminddb-golang"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mod {
				return "maxminddb-golang " + d.Version
			}
		}
	}
	return "maxminddb-golang"
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
