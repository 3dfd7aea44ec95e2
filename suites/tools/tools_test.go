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

	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// tool is one real updater and the verdicts it earns against each reader.
type tool struct {
	cmd    string // --writer-cmd
	kind   string // --target-kind
	expect map[string]want
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
// down. Where timing decides between two outcomes both are listed.
var tools = map[string]tool{
	"cp": {cmd: "cp {new} {target}", expect: map[string]want{
		"mmap": is("cp opens the target O_TRUNC and copies into the same inode: pages of the old mapping past the new end raise SIGBUS", crash),
		"bytes": is("a reload reads an empty or partial file and fails (the old buffer is kept); a read that spans the truncation can mix A and B and still parse",
			degraded, corrupt),
	}},
	"shell-redirect": {cmd: `sh -c 'cat "$1" > "$2"' sh {new} {target}`, expect: map[string]want{
		"mmap":  is("> truncates the target like cp, then cat copies into the same inode: SIGBUS in the old mapping", crash),
		"bytes": is("as cp: reloads meet an empty or partial file; a read spanning the truncation can mix versions", degraded, corrupt),
	}},
	"mv": {cmd: "mv {new} {target}", expect: map[string]want{
		"mmap":  is("rename(2) swaps the name in one step: a mapped reader keeps the old inode whole, an opening one gets old or new", safe),
		"bytes": is("every open finds a whole file, old or new", safe),
	}},
	"rsync": {cmd: "rsync -I {new} {target}", expect: map[string]want{
		"mmap":  is("rsync writes .db.mmdb.XXXXXX and renames it over the target: the old inode stays whole", safe),
		"bytes": is("every open finds a whole file, old or new", safe),
	}},
	"rsync-inplace": {cmd: "rsync -I --inplace {new} {target}", expect: map[string]want{
		"mmap": is("--inplace rewrites the mapped inode without truncating (torn pages: wrong answers), then ftruncates it to the smaller B: SIGBUS past the end",
			corrupt, crash),
		"bytes": is("a reload during the rewrite reads a torn file that still parses: wrong answers with no error", corrupt),
	}},
	"install": {cmd: "install -m 0644 {new} {target}", expect: map[string]want{
		"mmap":  is("install unlinks the target and writes a new file: mapped readers keep the old inode, but a reopen meets ENOENT or a partial file and fails", degraded),
		"bytes": is("a reload meets ENOENT or a partial file and fails; the old buffer is kept", degraded),
	}},
	"ln-sfn": {cmd: "ln -sfn {new} {target}", kind: "symlink", expect: map[string]want{
		"mmap":  is("coreutils 9 ln -sfn makes the new link under a temporary name and renames it over the old one: every open resolves to a whole file", safe),
		"bytes": is("every open resolves to a whole file", safe),
	}},
	"cp-through-symlink": {cmd: "cp {new} {target}", kind: "symlink", expect: map[string]want{
		"mmap":  is("cp follows the link and truncates the data file it points to: a symlink target does not help an in-place writer", crash),
		"bytes": is("reloads meet the data file empty or partial", degraded, corrupt),
	}},
}

// programOf is the program an entry needs.
func programOf(cmd string) string { return strings.Fields(cmd)[0] }

func toolEntries() []TableEntry {
	var entries []TableEntry
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		t := tools[name]
		entries = append(entries, Entry(name+": "+t.cmd, name, t, Label("tool:"+name, "program:"+programOf(t.cmd)), SpecTimeout(5*time.Minute)))
	}
	return entries
}

var _ = DescribeTable("real updaters through mapchaos check", Label("tools"), Serial,
	func(ctx SpecContext, name string, t tool) {
		_, err := exec.LookPath(programOf(t.cmd))
		Expect(err).NotTo(HaveOccurred(), "%s is not installed: on Debian, apt-get install %s", programOf(t.cmd), programOf(t.cmd))
		out := filepath.Join(outDir, name)
		readers := slices.Sorted(maps.Keys(t.expect))
		kind := t.kind
		if kind == "" {
			kind = "file"
		}
		cmd := exec.Command(env.Bin, "check", "--writer-cmd", t.cmd, "--target-kind", kind,
			"--readers", strings.Join(readers, ","), "--updates", "8", "--seed", "1", "--out", out)
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, s).Should(gexec.Exit())
		Expect(s.ExitCode()).To(BeElementOf(0, 1), "check failed to run:\n%s", s.Err.Contents())

		rep, err := reports.Read(filepath.Join(out, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results).To(HaveLen(len(readers)))
		unsafe := false
		for _, e := range rep.Results {
			Expect(e.WriterError).To(BeEmpty(), "%s itself failed", t.cmd)
			AddReportEntry(name+" x "+e.Reader, e.Verdict.String())
			w := t.expect[e.Reader]
			Expect(e).To(matchers.HaveVerdict(w.verdicts...), "%s x %s: %s", name, e.Reader, w.why)
			unsafe = unsafe || e.Verdict >= verdicts.Stuck
		}
		if unsafe {
			Expect(s.ExitCode()).To(Equal(1), "a reader crashed, got stuck or was served a wrong answer: check must exit 1")
		} else {
			Expect(s.ExitCode()).To(Equal(0), "no reader crashed, got stuck or was served a wrong answer: check must exit 0")
		}
	},
	toolEntries(),
)
