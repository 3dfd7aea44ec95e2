package tools_test

import (
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// tool is one real updater and the verdicts it earns against each reader:
// in race mode (expect, where timing may decide between outcomes) and in step
// mode (step, one verdict, the same every run).
type tool struct {
	cmd    string // --writer-cmd
	kind   string // --target-kind
	expect map[string]want
	step   map[string]verdicts.Verdict
}

// want is the verdicts a reader may end in, and why.
type want struct {
	verdicts []verdicts.Verdict
	why      string
}

func is(why string, vs ...verdicts.Verdict) want { return want{vs, why} }

const (
	safe     = verdicts.Safe
	degraded = verdicts.Degraded
	corrupt  = verdicts.Corrupt
	crash    = verdicts.Crash
)

// The verdicts were observed first (ext4, amd64, 4 KiB pages, coreutils 9.1,
// rsync 3.5, default fixture: 16 MiB, B 60% of A, 8 updates), then written
// down. Where timing decides between two outcomes in a race both are listed;
// step mode stops the tool at every call, so it has one verdict per reader.
var tools = map[string]tool{
	"cp": {cmd: "cp {new} {target}", expect: map[string]want{
		"mmap": is("cp opens the target O_TRUNC and copies into the same inode: pages of the old mapping past the new end raise SIGBUS", crash),
		"bytes": is("a reload reads an empty or partial file and fails (the old buffer is kept); a read that spans the truncation can mix A and B and still parse; "+
			"the empty or partial file lasts one copy_file_range, so a race can miss it (step mode finds it every run)",
			degraded, corrupt, safe),
	}, step: map[string]verdicts.Verdict{"mmap": crash, "bytes": degraded}},
	"shell-redirect": {cmd: `sh -c 'cat "$1" > "$2"' sh {new} {target}`, expect: map[string]want{
		"mmap":  is("> truncates the target like cp, then cat copies into the same inode: SIGBUS in the old mapping", crash),
		"bytes": is("as cp: reloads meet an empty or partial file; a read spanning the truncation can mix versions; a race can miss the window", degraded, corrupt, safe),
	}, step: map[string]verdicts.Verdict{"mmap": crash, "bytes": degraded}},
	"mv": {cmd: "mv {new} {target}", expect: map[string]want{
		"mmap":  is("rename(2) swaps the name in one step: a mapped reader keeps the old inode whole, an opening one gets old or new", safe),
		"bytes": is("every open finds a whole file, old or new", safe),
	}, step: map[string]verdicts.Verdict{"mmap": safe, "bytes": safe}},
	"rsync": {cmd: "rsync -I {new} {target}", expect: map[string]want{
		"mmap":  is("rsync writes .db.mmdb.XXXXXX and renames it over the target: the old inode stays whole", safe),
		"bytes": is("every open finds a whole file, old or new", safe),
	}, step: map[string]verdicts.Verdict{"mmap": safe, "bytes": safe}},
	"rsync-inplace": {cmd: "rsync -I --inplace {new} {target}", expect: map[string]want{
		"mmap": is("--inplace rewrites the mapped inode without truncating (torn pages: wrong answers), then ftruncates it to the smaller B: SIGBUS past the end",
			corrupt, crash),
		"bytes": is("a reload during the rewrite reads a torn file that still parses: wrong answers with no error", corrupt),
	}, step: map[string]verdicts.Verdict{"mmap": crash, "bytes": corrupt}},
	"install": {cmd: "install -m 0644 {new} {target}", expect: map[string]want{
		"mmap": is("install unlinks the target and writes a new file: mapped readers keep the old inode, but a reopen meets ENOENT or a partial file and fails; "+
			"the window is one copy_file_range wide, so a race under load can miss it in 8 updates (step mode finds it every run)", degraded, safe),
		"bytes": is("a reload meets ENOENT or a partial file and fails; the old buffer is kept; a race can miss the window", degraded, safe),
	}, step: map[string]verdicts.Verdict{"mmap": degraded, "bytes": degraded}},
	"ln-sfn": {cmd: "ln -sfn {new} {target}", kind: "symlink", expect: map[string]want{
		"mmap":  is("coreutils 9 ln -sfn makes the new link under a temporary name and renames it over the old one: every open resolves to a whole file", safe),
		"bytes": is("every open resolves to a whole file", safe),
	}, step: map[string]verdicts.Verdict{"mmap": safe, "bytes": safe}},
	"cp-through-symlink": {cmd: "cp {new} {target}", kind: "symlink", expect: map[string]want{
		"mmap":  is("cp follows the link and truncates the data file it points to: a symlink target does not help an in-place writer", crash),
		"bytes": is("reloads meet the data file empty or partial; a race can miss the window", degraded, corrupt, safe),
	}, step: map[string]verdicts.Verdict{"mmap": crash, "bytes": degraded}},
}

// programOf is the program an entry needs.
func programOf(cmd string) string { return strings.Fields(cmd)[0] }

// debianPackage is the package of a program an entry needs.
func debianPackage(program string) string {
	switch program {
	case "rsync":
		return "rsync"
	case "sh":
		return "dash"
	}
	return "coreutils"
}

func toolEntries() []TableEntry {
	var entries []TableEntry
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		t := tools[name]
		entries = append(entries, Entry(name+": "+t.cmd, name, t, Label("tool:"+name, "program:"+programOf(t.cmd)), SpecTimeout(5*time.Minute)))
	}
	return entries
}

// check runs `mapchaos check` with the tool as the updater in the given mode
// and returns the report, after checking that the tool itself never failed
// and that the exit status agrees with the verdicts (1 when any reader is
// unsafe, 0 otherwise).
func check(ctx SpecContext, name string, t tool, mode string) reports.Report {
	needs.Program(debianPackage(programOf(t.cmd)), programOf(t.cmd))
	out := filepath.Join(outDir, mode, name)
	readers := slices.Sorted(maps.Keys(t.expect))
	kind := t.kind
	if kind == "" {
		kind = "file"
	}
	args := []string{"check", "--mode", mode, "--writer-cmd", t.cmd, "--target-kind", kind,
		"--readers", strings.Join(readers, ","), "--updates", "8", "--seed", "1", "--out", out}
	s, err := gexec.Start(exec.Command(env.Bin, args...), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(ctx, s).Should(gexec.Exit())
	Expect(s.ExitCode()).To(BeElementOf(0, 1), "check failed to run:\n%s", s.Err.Contents())

	rep, err := reports.Read(filepath.Join(out, "report.json"))
	Expect(err).NotTo(HaveOccurred())
	Expect(rep.Results).To(HaveLen(len(readers)))
	unsafe := false
	for _, e := range rep.Results {
		Expect(e.WriterError).To(BeEmpty(), "%s itself failed", t.cmd)
		AddReportEntry(mode+": "+name+" x "+e.Reader, e.Verdict.String())
		unsafe = unsafe || e.Verdict >= verdicts.Stuck
	}
	if unsafe {
		Expect(s.ExitCode()).To(Equal(1), "a reader crashed, got stuck or was served a wrong answer: check must exit 1")
	} else {
		Expect(s.ExitCode()).To(Equal(0), "no reader crashed, got stuck or was served a wrong answer: check must exit 0")
	}
	return rep
}

var _ = DescribeTable("real updaters through mapchaos check", Label("tools", "race"), Serial,
	func(ctx SpecContext, name string, t tool) {
		for _, e := range check(ctx, name, t, "race").Results {
			w := t.expect[e.Reader]
			Expect(e).To(matchers.HaveVerdict(w.verdicts...), "%s x %s: %s", name, e.Reader, w.why)
		}
	},
	toolEntries(),
)

// In step mode the same tools earn one verdict each, every run: the window a
// race can miss (install's unlink) is a state the tool is stopped in.
var _ = DescribeTable("real updaters stepped through mapchaos check --mode step", Label("tools", "step"), Serial,
	func(ctx SpecContext, name string, t tool) {
		for _, e := range check(ctx, name, t, "step").Results {
			Expect(e).To(matchers.HaveVerdict(t.step[e.Reader]), "%s x %s stepped: %s", name, e.Reader, t.expect[e.Reader].why)
		}
	},
	toolEntries(),
)
