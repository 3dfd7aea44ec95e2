package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/internal/shell"
	"github.com/mapchaos/mapchaos/powerloss"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/vm"
	"github.com/mapchaos/mapchaos/writers"
)

const checkUsage = `Usage: mapchaos check --writer-cmd 'PROG ARG {new} {target}' [flags]

Races your own updater against every chosen reader, in real processes, and
says whether any reader crashed or was served a wrong answer.

The command runs once per update (A -> B -> A ...), never on a real file:
  {new}     a fresh copy of the version to install, in the target's directory;
            the command may read, move or delete it
  {target}  the file readers use, inside the run directory under --out
Placeholders are expanded inside words too (dd if={new} of={target}), as
xargs -I does (--reader-cmd's {target} must be a whole argument). The
command also gets $MAPCHAOS_NEW, $MAPCHAOS_TARGET and $MAPCHAOS_UPDATE; a
command without {new} finds the new version in $MAPCHAOS_NEW. After it
exits 0 the target must hold exactly the new version. A process it leaves
running (a daemon started with setsid) is killed and named in writer.log.

--writer-cmd and --reader-cmd are split into words like a shell would, with
'single quotes', "double quotes" and backslash escapes, but no shell runs
them and nothing is expanded ($VAR, ~, globs). The operators | & ; < > ( )
are refused unless quoted, and so are $VAR, $(...) and backquotes, except in
the script of sh -c (or bash -c ...), whose shell expands them:
  --writer-cmd 'sh -c '\''cat "$1" > "$2"'\'' sh {new} {target}'
  --writer-cmd 'sh -c "dd if=$1 of=$2 conv=notrunc" sh {new} {target}'

Exit status:
  0  no reader crashed, got stuck or was served a wrong answer (safe,
     degraded or recovered; degraded and recovered are noted)
  1  the updater is unsafe: a reader crashed, got stuck or was served a wrong
     answer; or the updater itself failed (exited non-zero, was killed, ran
     past --writer-timeout, or did not install the new version): it is
     reported as UPDATER FAILED with its output, not as a reader verdict
  2  bad usage or input (nothing is started)
  3  the harness itself failed

Flags:
`

// checkGate is what check demands of every reader: the verdicts of docs/contracts.md
// below stuck. Stuck, corrupt and crash make the updater unsafe.
var checkGate = config.Expectation{Writer: "exec", Reader: "*",
	Verdicts: []verdicts.Verdict{verdicts.Safe, verdicts.Degraded, verdicts.Recovered},
	Why:      "mapchaos check: no reader may crash, get stuck or be served a wrong answer"}

type checkFlags struct {
	writerCmd, readers, readerCmd, out, mode, targetKind, size, shape, cache string
	model                                                                    string
	old, new, fs, arch, pageSize                                             string
	stage                                                                    stringList // --stage, repeatable
	updates, seed                                                            int64
	timeout                                                                  time.Duration
	kernelCheck                                                              bool

	argv       []string        // --writer-cmd, split
	readerArgv []string        // --reader-cmd, split
	fixture    fixtures.Spec   // --size, --shape
	guest      vm.Arch         // --arch arm64 with --page-size
	set        map[string]bool // flags given on the command line
}

func (a *app) parseCheckFlags(args []string) (checkFlags, error) {
	f := checkFlags{set: map[string]bool{}}
	fs := flag.NewFlagSet("mapchaos check", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.writerCmd, "writer-cmd", "", "your updater, run once per update with {new} and {target} replaced (required)")
	fs.StringVar(&f.readers, "readers", "mmap,mmap-recover,bytes", "comma-separated built-in readers to race the updater against (see mapchaos list)")
	fs.StringVar(&f.readerCmd, "reader-cmd", "", "also check a foreign reader: 'PROG ARGS {target}', speaking the line protocol (docs/contracts.md); raced, or probed at every step with --mode step")
	fs.Int64Var(&f.updates, "updates", 8, "updates per reader (A->B, B->A, ...)")
	fs.Int64Var(&f.seed, "seed", config.Default().Race.Seed, "seed of the race (IPs looked up, gaps, when starting readers open)")
	fs.StringVar(&f.out, "out", filepath.Join("mapchaos-out", "check"), "output directory for the report and the run directories")
	fs.StringVar(&f.mode, "mode", "race", "race (by timing), step (the updater under ptrace, probed after every system call) or power-loss (the states a power cut may leave, opened by restarted readers)")
	fs.StringVar(&f.model, "model", "posix", "--mode power-loss: the persistence model, posix or ext4-ordered")
	fs.StringVar(&f.old, "old", "", "race your own pair: the database before the update (with --new)")
	fs.StringVar(&f.new, "new", "", "race your own pair: the database after the update (with --old)")
	fs.StringVar(&f.targetKind, "target-kind", "file", "file (the target is a regular file) or symlink (a symlink to a file in the same directory)")
	fs.StringVar(&f.size, "size", "16MiB", "size of version A of the generated fixture (64KiB to 1GiB)")
	fs.StringVar(&f.shape, "shape", string(fixtures.Shrink), "size of B relative to A: same, shrink (about 60%) or grow (about 160%)")
	fs.DurationVar(&f.timeout, "writer-timeout", writers.DefaultTimeout, "longest one run of the updater may take; past it its process group is killed and the updater failed")
	fs.StringVar(&f.cache, "cache", "", "fixture cache directory (default $MAPCHAOS_CACHE or the user cache dir)")
	fs.StringVar(&f.fs, "fs", "", fsUsage)
	fs.StringVar(&f.arch, "arch", "native", "native, arm64 or amd64: run the updater and the readers inside a real Linux kernel of that architecture with a Debian userland (qemu-system-aarch64, qemu-system-x86_64)")
	fs.StringVar(&f.pageSize, "page-size", "4k", pageSizeUsage)
	fs.Var(&f.stage, "stage", "with --arch arm64 or amd64: copy this file or folder of this machine into the guest's working directory, where the updater and the reader run (repeatable)")
	fs.BoolVar(&f.kernelCheck, "kernel-check", false, kernelCheckUsage)
	if err := parseFlags(fs, args, a.stdout, a.stderr); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usagef("unexpected argument %q: check takes only flags (quote the whole command: --writer-cmd 'cp {new} {target}')", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if err := f.validate(); err != nil {
		return f, usageError{err}
	}
	if f.kernelCheck {
		if err := resolveKernelCheck(f.mode, &f.model, &f.arch, f.fs, f.set); err != nil {
			return f, err
		}
		var err error
		if f.guest, err = guestArch(f.arch, f.pageSize, f.set["page-size"]); err != nil {
			return f, err
		}
	}
	return f, validFS(f.fs, f.arch)
}

// validate checks every flag before anything is started or written.
func (f *checkFlags) validate() error {
	if strings.TrimSpace(f.writerCmd) == "" {
		if f.set["writer-cmd"] {
			return errors.New("--writer-cmd is empty: want your updater, e.g. --writer-cmd './update.sh {new} {target}'")
		}
		return errors.New("--writer-cmd is required: your updater, e.g. --writer-cmd './update.sh {new} {target}' (see mapchaos check -h)")
	}
	var err error
	if f.argv, err = shell.Split(f.writerCmd); err != nil {
		return fmt.Errorf("--writer-cmd: %w", err)
	}
	switch f.mode {
	case "race", "step", "power-loss":
	default:
		return fmt.Errorf("--mode %q: want race, step or power-loss", f.mode)
	}
	if _, err := powerloss.ModelNamed(f.model); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if (f.old == "") != (f.new == "") {
		return errors.New("--old and --new go together: give both (your own pair) or neither (a generated pair)")
	}
	switch f.targetKind {
	case "file", "symlink":
	default:
		return fmt.Errorf("--target-kind %q: want file or symlink", f.targetKind)
	}
	if err := errors.Join(checkUpdates(f.updates), checkSeed(f.seed)); err != nil {
		return err
	}
	if _, err := nameList("readers", f.readers, true); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--writer-timeout %s: want a positive duration such as 30s", f.timeout)
	}
	size, err := config.ParseSize(f.size)
	if err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	f.fixture = fixtures.Spec{Size: size, Shape: fixtures.Shape(f.shape)}
	if size < fixtures.MinSize || size > fixtures.MaxSize {
		return fmt.Errorf("--size %s: want 64KiB to 1GiB", f.size)
	}
	if f.fixture.Shape.Ratio() == 0 {
		return fmt.Errorf("--shape %q: want same, shrink or grow", f.shape)
	}
	if err := f.validateArch(); err != nil {
		return err
	}
	if err := f.guestExec().Validate(); err != nil {
		return fmt.Errorf("--writer-cmd: %w", err)
	}
	if f.readerCmd != "" {
		if f.readerArgv, err = shell.Split(f.readerCmd); err != nil {
			return fmt.Errorf("--reader-cmd: %w", err)
		}
		if _, err := readers.Foreign("exec", f.readerArgv); err != nil {
			return fmt.Errorf("--reader-cmd: %w", err)
		}
		if _, err := exec.LookPath(f.readerArgv[0]); err != nil && f.arch == "native" {
			return fmt.Errorf("--reader-cmd: program %q: %w", f.readerArgv[0], errors.Unwrap(err))
		}
	}
	return nil
}

// exec is the updater as a writer, its output going to log.
func (f checkFlags) exec(log io.Writer) writers.Exec {
	e := writers.Command(f.argv...)
	e.Timeout, e.Output = f.timeout, log
	return e
}

// strategy is the updater as the engine races it.
func (f checkFlags) strategy(log io.Writer) writers.Strategy {
	return writers.Strategy{Name: "exec", Summary: "your updater: " + f.exec(nil).String(),
		Properties: writers.Properties{SymlinkTarget: f.targetKind == "symlink"}, Writer: f.exec(log)}
}

// check races the user's updater (--writer-cmd) against every chosen reader.
func (a *app) check(ctx context.Context, args []string) (int, error) {
	start := time.Now()
	f, err := a.parseCheckFlags(args)
	if err != nil {
		return 0, err
	}
	r, err := a.checkRun(f)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(a.stdout, "updater: %s (target: %s)\n", f.exec(nil), f.targetKind)
	if r.Pair, err = a.fixturePair(ctx, r.Plan.Config, f.cache); err != nil {
		return 0, err
	}
	if r.Out, err = filepath.Abs(f.out); err != nil {
		return 0, usagef("--out: %v", err)
	}
	if err := harness.PrepareOut(r.Out); err != nil {
		return 0, err
	}
	if !f.exec(nil).HasNew() {
		r.Warnings = append(r.Warnings, "the updater command has no {new} argument: it found the new version only through $MAPCHAOS_NEW")
		fmt.Fprintln(a.stdout, "note: the updater command has no {new} argument: it gets the new version's path in $MAPCHAOS_NEW")
	}
	a.announceCheck(r)
	p := newPrinter(a, "check", len(r.Plan.Combos), start)
	p.line = checkLine
	placed, err := execute(ctx, r, p)
	if err != nil {
		return 0, err
	}
	code := 0
	for _, pl := range placed { // one per file system in a guest
		rep := pl.Report
		if n := len(r.Plan.Combos) - len(rep.Results); n > 0 {
			fmt.Fprintf(a.stdout, "the updater failed: not racing the other %d readers\n", n)
		}
		fmt.Fprintln(a.stdout)
		if pl.Label != "" {
			fmt.Fprintf(a.stdout, "on %s in the %s guest:\n", pl.Label, f.arch)
		}
		printCheckSummary(a.stdout, rep)
		fmt.Fprintf(a.stdout, "\nreport: %s (also report.md, report.html, junit.xml)\n", filepath.Join(pl.Dir, reports.JSONFile))
		code = max(code, checkVerdict(a.stdout, rep, pl.Dir, time.Since(start)))
	}
	return code, nil
}

// checkRun builds the run of a check: the updater against each chosen
// reader, each held to checkGate.
func (a *app) checkRun(f checkFlags) (*harness.Run, error) {
	rs, err := harness.Readers(a.readers, splitList(f.readers), f.readerArgv)
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Fixture = config.Fixture{Size: f.fixture.Size, Shape: f.fixture.Shape, Old: f.old, New: f.new}
	cfg.Race.Updates, cfg.Race.Seed = int(f.updates), f.seed
	plan, err := harness.Against(cfg, f.strategy(nil), rs, &checkGate)
	if err != nil {
		return nil, err
	}
	repro := harness.Repro{WriterCmd: f.writerCmd, ReaderCmd: f.readerCmd, Old: f.old, New: f.new, Mode: f.mode, Model: f.model,
		Seed: f.seed, Updates: int(f.updates), TargetKind: f.targetKind, FS: f.fs}
	if f.set["size"] || f.set["shape"] {
		repro.Size, repro.Shape = f.size, f.shape
	}
	if f.timeout != writers.DefaultTimeout {
		repro.Timeout = f.timeout
	}
	var mode harness.Mode = harness.Race{}
	if f.mode == "step" {
		mode = harness.Step{Updates: 2, Timeout: f.timeout}
	}
	if f.mode == "power-loss" {
		mode = harness.PowerLoss{Model: f.model, Updates: 2, Timeout: f.timeout, Kernel: f.kernelCheck, KernelFS: kernelFS(f.fs)}
	}
	env := envFor(f.guest, f.fs, f.stage)
	if f.kernelCheck {
		env = kernelEnv(f.guest, f.fs, f.stage)
	}
	if f.arch != "native" {
		repro.Stage = f.stage
	}
	return &harness.Run{Plan: plan, Mode: mode, Env: env, Self: a.self, Repro: repro,
		WriterCmd: f.writerCmd, ReaderCmd: f.readerCmd}, nil
}

// announceCheck prints what the check is about to do.
func (a *app) announceCheck(r *harness.Run) {
	rc := r.Plan.Config.Race
	if pl, ok := r.Mode.(harness.PowerLoss); ok {
		fmt.Fprintf(a.stdout, "tracing the updater under ptrace: 2 updates, the crash states of each under the %s model opened by %d restarted reader(s), seed %d\n", pl.Model, len(r.Plan.Combos), rc.Seed)
		return
	}
	if r.Mode.Name() == "step" {
		fmt.Fprintf(a.stdout, "stepping the updater under ptrace: 2 updates, %d reader(s) probed at every step, seed %d\n", len(r.Plan.Combos), rc.Seed)
		return
	}
	fmt.Fprintf(a.stdout, "racing the updater against %d reader(s): %d updates each, %d running + %d starting readers per update, seed %d\n",
		len(r.Plan.Combos), rc.Updates, rc.RunningReaders, rc.StartingReaders, rc.Seed)
}

// failsCheck reports whether v fails the check.
func failsCheck(v verdicts.Verdict) bool { return !checkGate.Allows(v) }

// checkLine is the line printed for a reader once the updater has been
// raced (or stepped) against it.
func checkLine(i, n int, e reports.Entry, elapsed time.Duration) string {
	if e.WriterError != "" {
		return fmt.Sprintf("[%d/%d %5.1fs] exec x %-12s UPDATER FAILED: %s\n", i, n, elapsed.Seconds(), e.Reader,
			strings.TrimSuffix(lines.First(e.WriterError), "; its output:"))
	}
	mark := "ok"
	if failsCheck(e.Verdict) || !e.Met {
		mark = "UNSAFE"
	}
	return fmt.Sprintf("[%d/%d %5.1fs] exec x %-12s %-9s %-6s (%s; %s)\n",
		i, n, elapsed.Seconds(), e.Reader, e.Verdict, mark, roles(e), measured(e))
}

// printCheckSummary prints one row per reader and, under it, why each
// reader that was not safe was not.
func printCheckSummary(w io.Writer, r reports.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tVERDICT\tRUNNING\tSTARTING\tLOOKUPS\tWRONG\tERRORS\tFAULTS")
	for _, e := range r.Results {
		verdict := e.Verdict.String()
		if e.WriterError != "" {
			verdict = "(updater failed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", e.Reader, verdict, checkRoleVerdict(e, results.Running), checkRoleVerdict(e, results.Starting),
			e.Lookups, e.Answers.Wrong, e.Answers.Errors+e.Answers.OpenErrors, e.Answers.Faults)
	}
	tw.Flush()
	fmt.Fprintf(w, "%s/%s, %s, kernel %s, page size %d, seed %d\n", r.Run.GOOS, r.Run.GOARCH, r.Run.FS, r.Run.Kernel, r.Run.PageSize, r.Run.Seed)
	for _, e := range r.Results {
		if e.Evidence == nil || e.WriterError != "" {
			continue
		}
		ev := e.Evidence
		fmt.Fprintf(w, "\n%s: %s in a %s reader: %s\n", e.Reader, ev.Outcome, ev.Role, checkHeadline(*ev))
		if ev.WriterStep != "" {
			fmt.Fprintf(w, "  the updater was at: %s\n", ev.WriterStep)
		}
		if ev.Repro != "" {
			fmt.Fprintf(w, "  repro: %s\n", ev.Repro)
		}
	}
}

func checkRoleVerdict(e reports.Entry, role results.Role) string {
	if r, ok := e.Roles[role]; ok && r.Readers > 0 {
		return r.Verdict.String()
	}
	return "-"
}

// checkHeadline says in one line what happened to a reader.
func checkHeadline(ev results.Evidence) string {
	var parts []string
	if ev.Signal != "" {
		s := ev.Signal
		if ev.Code != "" {
			s += " " + ev.Code
		}
		if ev.Addr != "" {
			s += " at " + ev.Addr
		}
		parts = append(parts, s)
	}
	if ev.Fatal != "" {
		parts = append(parts, ev.Fatal)
	}
	if ev.Detail != "" {
		parts = append(parts, ev.Detail)
	}
	return strings.Join(parts, "; ")
}

// checkVerdict prints the conclusion and returns the exit status.
func checkVerdict(w io.Writer, r reports.Report, out string, elapsed time.Duration) int {
	if failure := writerFailure(r); failure != nil {
		fmt.Fprintf(w, "UPDATER FAILED (racing reader %s): this is the updater's own failure, not a reader verdict\n%s\n", failure.Reader, failure.WriterError)
		fmt.Fprintf(w, "its output of every update: %s\n", filepath.Join(out, "runs", "exec_x_"+failure.Reader, "writer.log"))
		return exitFailed
	}
	var bad, noted []string
	for _, e := range r.Results {
		switch {
		case failsCheck(e.Verdict) || !e.Met: // !Met: a power cut leaves a state the reader cannot serve
			bad = append(bad, e.Reader+" "+e.Verdict.String())
		case e.Verdict != verdicts.Safe:
			noted = append(noted, e.Reader+" "+e.Verdict.String())
		}
	}
	for _, e := range r.Results {
		switch e.Verdict {
		case verdicts.Degraded:
			fmt.Fprintf(w, "note: %s was degraded: an open, reload or lookup failed (no wrong answer, no crash); a reader that did not handle that error would have failed\n", e.Reader)
		case verdicts.Recovered:
			fmt.Fprintf(w, "note: %s recovered from memory faults (SetPanicOnFault): readers without that protection crash with this updater\n", e.Reader)
		}
	}
	if len(bad) > 0 && r.Run.Mode == "power-loss" {
		fmt.Fprintf(w, "UNSAFE: after a power loss during an update, a restarted reader crashes, gets stuck, serves wrong answers or cannot serve at all (down): %s (%.1fs)\n", strings.Join(bad, ", "), elapsed.Seconds())
		return exitFailed
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "UNSAFE: the updater made readers crash, get stuck or serve wrong answers: %s (%.1fs)\n", strings.Join(bad, ", "), elapsed.Seconds())
		return exitFailed
	}
	if len(noted) > 0 {
		fmt.Fprintf(w, "OK: no reader crashed, got stuck or was served a wrong answer; with notes: %s (%.1fs)\n", strings.Join(noted, ", "), elapsed.Seconds())
	} else {
		fmt.Fprintf(w, "SAFE: every reader got the right answer, from the old or the new version, throughout (%.1fs)\n", elapsed.Seconds())
	}
	if r.Run.Mode == "race" {
		// A race that found nothing worse has not proved the narrow
		// windows absent: say how to look inside each one.
		fmt.Fprintln(w, "hint: a race sees only the moments a reader happened to open or read in; run the same check with --mode step to stop the updater after every system call and probe each state")
	}
	return exitOK
}

// writerFailure is the entry whose race the updater failed, or nil.
func writerFailure(r reports.Report) *reports.Entry {
	for i, e := range r.Results {
		if e.WriterError != "" {
			return &r.Results[i]
		}
	}
	return nil
}
