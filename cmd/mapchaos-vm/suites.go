package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/vm"
)

// defaultPackages are the suites that run in the guest, with its Debian
// userland: the engine, the harness and the matrix (real races, real
// faults), step mode (ptrace and seccomp on an arm64 kernel), the CLI and
// the root package (with the prebuilt $MAPCHAOS_BIN), the real tools
// (suites/tools: GNU cp, dash, rsync), the examples' shell updaters, and
// the unit suites, the page-boundary suite (suites/pages); foreign-reader specs run python3 with maxminddb. Left
// out: vm (it boots qemu itself).
const defaultPackages = "./engine,./harness,./suites/matrix,./step,./config,./crashes,./fixtures,./matchers,./readers,./reports,./verdicts,./writers," +
	"./cmd/mapchaos,.,./suites/tools,./examples,./suites/pages"

// guestLabelFilter leaves out, in the guest, the specs that boot qemu
// themselves (label qemu): emulating a machine inside the emulated one.
const guestLabelFilter = "!qemu"

type suiteOptions struct {
	packages, fs, out, ginkgoFlags, pageSize string
	timeout                                  time.Duration
}

// suiteRun is one package's suite on one file system.
type suiteRun struct {
	pkg, name, fs, step string
}

// suitePkg is a package whose tests run in the guest.
type suitePkg struct {
	ginkgo bool // a Ginkgo suite (else plain go test: no -ginkgo.* flags, no junit)
}

func runSuites(ctx context.Context, o suiteOptions, stdout io.Writer) (int, error) {
	start := time.Now()
	runs, err := parseRuns(o)
	if err != nil {
		return 0, err
	}
	arch, err := pagedArm64(o.pageSize)
	if err != nil {
		return 0, err
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 10*time.Minute + time.Duration(len(runs))*30*time.Minute
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return 0, usageError{err}
	}

	host, err := setUp(ctx, arch, stdout)
	if err != nil {
		return 0, err
	}
	work, err := os.MkdirTemp("", "mapchaos-vm-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)

	buildStart := time.Now()
	kinds, err := stage(ctx, host.Source, runs, work, stdout)
	if err != nil {
		return 0, err
	}
	buildTime := time.Since(buildStart)

	fmt.Fprintf(stdout, "arm64: booting %s under %s; %d suite runs (at most %s)\n",
		host.Kernel.Release, arch.Describe(2, 1536), len(runs), timeout.Round(time.Second))
	bootStart := time.Now()
	g := vm.Guest{Kernel: host.Kernel, Root: host.Root.Image(), Init: filepath.Join(work, "init"), DiskDir: filepath.Join(work, "disk"),
		DiskFreeMiB: 1024, Work: work, Modules: modulesOf(runs),
		Plan: vm.Plan{Steps: suiteSteps(runs, kinds, o.ginkgoFlags)},
		Machine: vm.Machine{Arch: arch, Qemu: host.Qemu, MemMiB: 1536, CPUs: 2, Timeout: timeout,
			Pass: func(line string) { fmt.Fprintf(stdout, "arm64 | %s\n", line) }}}
	res, err := g.Boot(ctx)
	if err != nil {
		return 0, err
	}
	bootToResult := time.Since(bootStart)

	failedRuns, total, err := summarize(stdout, runs, kinds, res.Transcript, out)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "\njunit reports: %s/<fs>/<suite>/junit.xml\n", out)
	fmt.Fprintf(stdout, "arm64 timings: kernel %s, build %.1fs, boot %.1fs, boot-to-result %.1fs, total %.1fs\n",
		map[bool]string{true: fmt.Sprintf("downloaded in %.1fs", host.FetchTime.Seconds()), false: "cached"}[host.Fetched],
		buildTime.Seconds(), res.Boot.Seconds(), bootToResult.Seconds(), time.Since(start).Seconds())
	code := exitOK
	if failedRuns > 0 {
		fmt.Fprintf(stdout, "%d of %d suite runs failed on arm64\n", failedRuns, len(runs))
		code = exitFailed
	} else {
		fmt.Fprintf(stdout, "every suite passed on arm64 (%d suite runs)\n", len(runs))
	}
	// The closing line, in the form CI runners read: specs of the Ginkgo
	// suites; a failed run without a failed spec counts as one failure.
	fmt.Fprintf(stdout, "arm64: %d passed, %d failed, %d skipped\n", total.passed(), total.Failures+total.Errors, total.Skipped)
	if total.Filtered > 0 {
		fmt.Fprintf(stdout, "arm64: %d specs left out by a filter (label %s: they boot qemu themselves; or --ginkgo-flags), not counted as skipped\n",
			total.Filtered, guestLabelFilter)
	}
	return code, nil
}

// suiteModules are the kernel modules a suite needs in the guest beyond
// the disk's: the CLI suite's fs specs mount xfs (MAPCHAOS_TEST_FS, xfs by
// default) and overlay images on loop devices.
var suiteModules = map[string][]string{"./cmd/mapchaos": {"loop", "xfs", "overlay"}}

// modulesOf lists the modules the runs' suites need, each once.
func modulesOf(runs []suiteRun) []string {
	var mods []string
	for _, r := range runs {
		for _, m := range suiteModules[r.pkg] {
			if !slices.Contains(mods, m) {
				mods = append(mods, m)
			}
		}
	}
	return mods
}

// setUp finds qemu, the source, the kernel and the Debian root of arch
// (fetching what is not cached) and says where they came from.
func setUp(ctx context.Context, arch vm.Arch, stdout io.Writer) (vm.Host, error) {
	cwd, _ := os.Getwd()
	kcache := vm.DefaultCacheDir()
	host, err := vm.Setup(ctx, cwd, kcache, vm.Want{Arch: arch, Root: true}, vm.Apt{})
	if err != nil {
		return host, err
	}
	if host.Fetched {
		fmt.Fprintf(stdout, "arm64: downloaded %s %s in %.1fs (cached in %s)\n", host.Kernel.Package, host.Kernel.Version, host.FetchTime.Seconds(), kcache)
	} else {
		fmt.Fprintf(stdout, "arm64: kernel %s %s (cached in %s)\n", host.Kernel.Package, host.Kernel.Version, kcache)
	}
	fmt.Fprintf(stdout, "arm64: %s\n", harness.RootNote(host))
	return host, nil
}

// pagedArm64 is the arm64 guest of --page-size (4k or 16k).
func pagedArm64(flag string) (vm.Arch, error) {
	size, err := vm.ParsePageSize(flag)
	if err == nil {
		var a vm.Arch
		if a, err = vm.Arm64.WithPageSize(size); err == nil {
			return a, nil
		}
	}
	return vm.Arch{}, usageError{fmt.Errorf("--page-size: %w", err)}
}

// parseRuns checks --packages and --fs and lists the suite runs.
func parseRuns(o suiteOptions) ([]suiteRun, error) {
	pkgs, fss := splitComma(o.packages), splitComma(o.fs)
	if len(pkgs) == 0 {
		return nil, usageError{errors.New("--packages: name at least one package")}
	}
	if len(fss) == 0 {
		return nil, usageError{errors.New("--fs: name ext4, tmpfs or both")}
	}
	for _, f := range fss {
		if f != "ext4" && f != "tmpfs" {
			return nil, usageError{fmt.Errorf("--fs %q: want ext4 or tmpfs", f)}
		}
	}
	var runs []suiteRun
	for _, p := range pkgs {
		p = "./" + strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, "./")), "/")
		if strings.Contains(p, "..") {
			return nil, usageError{fmt.Errorf("--packages: %q is not a package of the module", p)}
		}
		name := strings.ReplaceAll(strings.TrimPrefix(p, "./"), "/", "-")
		if p == "./." {
			p, name = ".", "mapchaos"
		}
		for _, f := range fss {
			runs = append(runs, suiteRun{pkg: p, name: name, fs: f, step: name + "@" + f})
		}
	}
	return runs, nil
}

// stage builds the guest init (work/init) and lays out the disk
// (work/disk): bin/mapchaos, src/ (the source tree, without .git and
// mapchaos-out) with src/<package>/<name>.test, and cache/ with the
// fixture pairs.
func stage(ctx context.Context, src vm.Source, runs []suiteRun, work string, stdout io.Writer) (map[string]suitePkg, error) {
	disk := filepath.Join(work, "disk")
	fmt.Fprintf(stdout, "arm64: compiling the suites, mapchaos and the guest init for linux/arm64 (CGO_ENABLED=0)\n")
	if err := src.Build(ctx, vm.GuestInitPackage, filepath.Join(work, "init")); err != nil {
		return nil, err
	}
	if err := src.Build(ctx, "./cmd/mapchaos", filepath.Join(disk, "bin", "mapchaos")); err != nil {
		return nil, err
	}
	// The CLI suite's report-writing specs interrupt a mapchaos linked
	// with the write hold; the guest has no Go toolchain to link it.
	if err := src.Build(ctx, "./cmd/mapchaos", filepath.Join(disk, "bin", "mapchaos-hold"),
		"-ldflags", "-X github.com/mapchaos/mapchaos/internal/atomicfile.holdEnv=MAPCHAOS_TEST_HOLD"); err != nil {
		return nil, err
	}
	kinds := map[string]suitePkg{}
	for _, r := range runs {
		if _, ok := kinds[r.pkg]; ok {
			continue
		}
		g, err := src.UsesGinkgo(ctx, r.pkg)
		if err != nil {
			return nil, err
		}
		kinds[r.pkg] = suitePkg{ginkgo: g}
		dir := filepath.Join(disk, "src", filepath.FromSlash(strings.TrimPrefix(r.pkg, "./")))
		if err := src.TestBinary(ctx, r.pkg, filepath.Join(dir, r.name+".test")); err != nil {
			return nil, err
		}
	}
	// The suites find their testdata, scripts (examples/*.sh), the foreign
	// reader (readers/foreign), ../../ginkgo.yml and the module's go.mod as
	// in the source tree.
	if err := copySource(src.Root, filepath.Join(disk, "src")); err != nil {
		return nil, err
	}
	if err := stageFixtures(ctx, src.Root, filepath.Join(disk, "cache"), stdout); err != nil {
		return nil, err
	}
	return kinds, nil
}

// suiteSteps turns the runs into guest steps: each test binary runs in its
// package directory, with TMPDIR and MAPCHAOS_OUT on the run's file system
// and MAPCHAOS_BIN naming the prebuilt mapchaos. CI is not passed on: a
// tool the guest's root lacks (chromium, for the HTML report's rendering)
// skips there, and the summary lists each skip with its reason.
func suiteSteps(runs []suiteRun, kinds map[string]suitePkg, ginkgoFlags string) []vm.Step {
	var steps []vm.Step
	for _, r := range runs {
		base := map[string]string{"ext4": vm.GuestDisk, "tmpfs": vm.GuestTmpfs}[r.fs] + "/suites/" + r.name
		pkgDir := strings.TrimSuffix(vm.GuestDisk+"/src/"+strings.TrimPrefix(r.pkg, "./"), "/.")
		argv := []string{pkgDir + "/" + r.name + ".test", "-test.timeout=" + (30 * time.Minute).String()}
		if kinds[r.pkg].ginkgo {
			argv = append(argv, "-ginkgo.no-color", "-ginkgo.randomize-all", "-ginkgo.fail-on-pending",
				"-ginkgo.junit-report="+base+"/junit.xml", "-ginkgo.label-filter="+guestLabelFilter)
			argv = append(argv, strings.Fields(ginkgoFlags)...)
		} else {
			argv = append(argv, "-test.v")
		}
		steps = append(steps, vm.Step{Name: r.step, Argv: argv, Dir: pkgDir,
			Env: []string{"HOME=/root", "TMPDIR=" + base + "/tmp", "PATH=" + vm.GuestDisk + "/bin:" + vm.GuestPath,
				"MAPCHAOS_BIN=" + vm.GuestDisk + "/bin/mapchaos", "MAPCHAOS_HOLD_BIN=" + vm.GuestDisk + "/bin/mapchaos-hold",
				"MAPCHAOS_CACHE=" + vm.GuestDisk + "/cache",
				"MAPCHAOS_OUT=" + base + "/report"},
			Mkdir:   []string{base + "/tmp"},
			Timeout: vm.Duration(30 * time.Minute),
			Collect: []string{base + "/junit.xml", base + "/report"}, CollectBase: base})
	}
	return steps
}

// summarize unpacks each run's results into out/<fs>/<suite> and prints
// one line per run.
func summarize(stdout io.Writer, runs []suiteRun, kinds map[string]suitePkg, t vm.Transcript, out string) (int, junitCounts, error) {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(stdout)
	fmt.Fprintln(tw, "suite\tfs\tresult\tspecs\tpassed\tfailed\tskipped\ttime")
	failedRuns, total := 0, junitCounts{}
	var skipped []string
	var failed []junitFailure
	for _, r := range runs {
		s := t.Step(r.step)
		dst := filepath.Join(out, r.fs, r.name)
		if err := os.RemoveAll(dst); err != nil {
			return 0, total, err
		}
		verdict, counts := "missing", junitCounts{}
		if s != nil {
			if s.Blob != nil {
				if err := vm.Unpack(s.Blob, dst); err != nil {
					return 0, total, err
				}
				specs, _ := readJUnitSkips(filepath.Join(dst, "junit.xml"))
				counts = specs.junitCounts
				for _, sk := range specs.skips {
					skipped = append(skipped, r.step+": "+sk)
				}
				for _, f := range specs.failures {
					failed = append(failed, junitFailure{Message: r.step + ": " + f.Message, Text: f.Text})
				}
				if err := markReport(filepath.Join(dst, "report")); err != nil {
					return 0, total, err
				}
			}
			switch {
			case !s.Ended:
				verdict = "did not finish"
			case s.Code == 0 && !kinds[r.pkg].ginkgo:
				verdict = "passed (go test, no spec counts)"
			case s.Code == 0:
				verdict = "passed"
			case s.Code == -1:
				verdict = "killed: " + s.Reason
			default:
				verdict = fmt.Sprintf("FAILED (exit %d)", s.Code)
			}
		}
		if !strings.HasPrefix(verdict, "passed") {
			failedRuns++
			if counts.Failures+counts.Errors == 0 {
				counts.Errors++ // a run that failed without a failed spec (a crash, a timeout, plain go test)
			}
		}
		total.add(counts)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.pkg, r.fs, verdict, counts.Tests, counts.passed(), counts.Failures+counts.Errors, counts.Skipped, stepDuration(s))
	}
	if err := tw.Flush(); err != nil {
		return failedRuns, total, err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stdout, "\nskipped in the guest (%d):\n", len(skipped))
		for _, sk := range skipped {
			fmt.Fprintf(stdout, "  %s\n", lines.First(sk))
		}
	}
	printFailed(stdout, failed)
	return failedRuns, total, nil
}

// printFailed lists the specs that failed in the guest, each with the
// start of what Ginkgo recorded, in the form Ginkgo prints a failure
// ("[FAILED] ..."): the guest's own output scrolled past long before.
func printFailed(stdout io.Writer, failed []junitFailure) {
	if len(failed) == 0 {
		return
	}
	fmt.Fprintf(stdout, "\nfailed in the guest (%d):\n", len(failed))
	for _, f := range failed {
		fmt.Fprintf(stdout, "  [FAILED] %s\n", lines.First(f.Message))
		text := strings.Split(strings.TrimSpace(f.Text), "\n")
		if len(text) > 25 {
			text = append(text[:25], fmt.Sprintf("(%d more lines in the suite's junit.xml)", len(text)-25))
		}
		for _, l := range text {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
	}
}

// markReport records, in the report a suite wrote in the guest (the
// matrix suite's MAPCHAOS_OUT), that it ran under qemu-system: the guest
// cannot know. A run without a report is left alone.
func markReport(dir string) error {
	p := filepath.Join(dir, "report.json")
	if !fileExists(p) {
		return nil
	}
	rep, err := reports.Read(p)
	if err != nil {
		return fmt.Errorf("the suite's report: %w", err)
	}
	rep.Run.Emulation = "qemu-system"
	if h, err := os.Hostname(); err == nil {
		rep.Run.Host = h
	}
	rep.Run.Warnings = append(rep.Run.Warnings, "ran in a real arm64 Linux kernel under full-system emulation "+
		"(qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536, TCG): faults and signals are the hardware's, "+
		"but the guest runs many times slower than the host, so verdicts that timing decides may differ")
	return reports.WriteAll(dir, rep)
}

type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Disabled int `xml:"disabled,attr"`
	// Filtered are specs a filter left out (counted in Skipped by Ginkgo,
	// taken out of it by readJUnitSkips).
	Filtered int `xml:"-"`
}

func (c junitCounts) passed() int {
	return c.Tests - c.Failures - c.Errors - c.Skipped - c.Disabled - c.Filtered
}

func (c *junitCounts) add(o junitCounts) {
	c.Tests += o.Tests
	c.Failures += o.Failures
	c.Errors += o.Errors
	c.Skipped += o.Skipped
	c.Disabled += o.Disabled
	c.Filtered += o.Filtered
}

// readJUnit reads the totals of a Ginkgo junit report. Ginkgo counts
// skipped specs per testsuite and, in <testsuites>, as disabled.
func readJUnit(p string) (junitCounts, error) {
	s, err := readJUnitSkips(p)
	return s.junitCounts, err
}

// junitDoc is what summarize reads of a Ginkgo junit report.
type junitDoc struct {
	junitCounts
	Suites []struct {
		junitCounts
		Cases []struct {
			Name    string `xml:"name,attr"`
			Status  string `xml:"status,attr"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			Failure *junitFailure `xml:"failure"`
			Error   *junitFailure `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// junitFailure is a failed spec's <failure> or <error>: Ginkgo puts the
// failure's message in the attribute and its location and output in the
// text.
type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// junitSpecs is what a junit report says beyond its counts: the skipped
// specs, each "name: reason", and the failed ones, each its name and why.
type junitSpecs struct {
	junitCounts
	skips    []string
	failures []junitFailure
}

// readJUnitSkips is readJUnit, with the skipped and the failed specs.
func readJUnitSkips(p string) (junitSpecs, error) {
	var doc junitDoc
	b, err := os.ReadFile(p)
	if err != nil {
		return junitSpecs{}, err
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return junitSpecs{}, fmt.Errorf("%s: %w", p, err)
	}
	c := doc.junitCounts
	c.Skipped, c.Disabled = 0, 0
	var skips []string
	var failures []junitFailure
	for _, s := range doc.Suites {
		c.Skipped += s.Skipped + s.Disabled
		for _, tc := range s.Cases {
			for _, f := range []*junitFailure{tc.Failure, tc.Error} {
				if f != nil {
					failures = append(failures, junitFailure{Message: tc.Name + ": " + f.Message, Text: f.Text})
				}
			}
			if tc.Skipped != nil || tc.Status == "skipped" || tc.Status == "pending" {
				msg := tc.Status
				if tc.Skipped != nil && tc.Skipped.Message != "" {
					msg = tc.Skipped.Message
				}
				if msg == "skipped" {
					// No reason: a filter left it out (label qemu, --ginkgo-flags).
					c.Skipped--
					c.Filtered++
					continue
				}
				skips = append(skips, tc.Name+": "+msg)
			}
		}
	}
	return junitSpecs{junitCounts: c, skips: skips, failures: failures}, nil
}

func stepDuration(s *vm.StepResult) string {
	if s == nil {
		return "-"
	}
	return s.Duration.Round(100 * time.Millisecond).String()
}

// stageFixtures generates the pair of ginkgo.yml on the host (the guest
// would take minutes) and copies every complete entry of this machine's
// fixture cache to dst, so that the suites find their pairs there; a pair
// not found is generated in the guest.
func stageFixtures(ctx context.Context, root, dst string, stdout io.Writer) error {
	hostCache := fixtures.DefaultCacheDir()
	if cfg, err := config.Load(filepath.Join(root, "ginkgo.yml")); err == nil && cfg.Fixture.Old == "" {
		if _, err := fixtures.Generate(ctx, cfg.Fixture.Spec(), hostCache); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	ents, err := os.ReadDir(hostCache)
	if err != nil {
		return fmt.Errorf("fixture cache: %w", err)
	}
	n := 0
	for _, e := range ents {
		dir := filepath.Join(hostCache, e.Name())
		if !e.IsDir() || !fileExists(filepath.Join(dir, "pair.json")) {
			continue
		}
		if size, _ := treeSize(dir); size > 64<<20 {
			continue
		}
		if err := copyTree(dir, filepath.Join(dst, e.Name())); err != nil {
			return err
		}
		n++
	}
	fmt.Fprintf(stdout, "arm64: %d fixture pairs from %s staged for the guest\n", n, hostCache)
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// copySource copies the module's source tree to dst (hard links where it
// can), leaving out hidden directories, mapchaos-out and test binaries.
func copySource(root, dst string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := d.Name()
		switch {
		case d.IsDir() && rel != "." && (strings.HasPrefix(name, ".") || rel == "mapchaos-out"):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case !d.Type().IsRegular() || strings.HasSuffix(name, ".test"):
			return nil
		}
		return vm.Stage(p, filepath.Join(dst, rel))
	})
}

// copyTree copies a file or a directory tree (hard links where it can); a
// missing src is nothing to copy.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		return vm.Stage(p, target)
	})
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
