package step_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// wrapper runs the test binary as the trace wrapper (see TestMain).
func wrapper() []string { return []string{os.Args[0], "trace-wrap"} }

// probed are the reader strategies the specs probe.
func probed() []readers.Registration {
	var out []readers.Registration
	for _, n := range []string{"mmap", "mmap-recover", "bytes"} {
		r, err := readers.Builtin().Lookup(n)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, r)
	}
	return out
}

// lab is a private directory for one stepped update: data/ holds the
// target, incoming/ a fresh copy of B for updaters that move or delete it.
type lab struct {
	dir, data, target, incoming string
}

func newLab() lab {
	dir := GinkgoT().TempDir()
	return lab{dir: dir, data: filepath.Join(dir, "data"), target: filepath.Join(dir, "data", "db.mmdb"),
		incoming: filepath.Join(dir, "incoming", "new.mmdb")}
}

// prepare lays out the initial state: the target holding A (as a symlink
// layout for props.SymlinkTarget), and a fresh copy of B in incoming/.
func (l lab) prepare(pair fixtures.Pair, props writers.Properties) func(context.Context) error {
	return func(context.Context) error {
		for _, d := range []string{l.data, filepath.Dir(l.incoming)} {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := copyFile(pair.B, l.incoming); err != nil {
			return err
		}
		return writers.Install(l.target, pair.A, props)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// config is the step.Config of an update of l's target from A to B by argv.
func (l lab) config(pair fixtures.Pair, props writers.Properties, argv []string) step.Config {
	return step.Config{Argv: argv, Wrapper: wrapper(), Target: l.target,
		Old: pair.A, New: pair.B, OldName: "A", NewName: "B",
		Prepare: l.prepare(pair, props), Readers: probed(), Oracle: pair.Universe, Seed: 42}
}

// stepBuiltin steps one A->B update by the built-in writer name, run as
// its own process (`writer NAME SRC TARGET SEQ` of the test binary).
func stepBuiltin(ctx context.Context, name string, pair fixtures.Pair, tweak ...func(*step.Config)) *step.Sequence {
	GinkgoHelper()
	s, err := writers.Builtin().Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	l := newLab()
	cfg := l.config(pair, s.Properties, append([]string{os.Args[0], "writer"}, step.WriterArgs(name, pair.B, l.target, 1)...))
	for _, t := range tweak {
		t(&cfg)
	}
	seq, err := step.Run(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	Expect(seq.Exit).To(Equal("exit 0"), "writer output: %s", seq.Output)
	logSequence(seq)
	return seq
}

// stepTool steps `argv... NEW TARGET`, a real tool.
func stepTool(ctx context.Context, argv []string, pair fixtures.Pair) *step.Sequence {
	GinkgoHelper()
	l := newLab()
	seq, err := step.Run(ctx, l.config(pair, writers.Properties{}, append(slices.Clone(argv), l.incoming, l.target)))
	Expect(err).NotTo(HaveOccurred())
	Expect(seq.Exit).To(Equal("exit 0"), "%s output: %s", argv[0], seq.Output)
	logSequence(seq)
	return seq
}

func logSequence(seq *step.Sequence) {
	GinkgoWriter.Println(strings.Join(seq.Command, " "))
	for _, l := range seq.Lines() {
		GinkgoWriter.Println("  " + l)
	}
}

// firstState returns the first state that satisfies ok, or nil.
func firstState(seq *step.Sequence, ok func(step.State) bool) *step.State {
	for i := range seq.States {
		if ok(seq.States[i]) {
			return &seq.States[i]
		}
	}
	return nil
}

// call returns the call that produced state st.
func call(seq *step.Sequence, st *step.State) step.Call {
	GinkgoHelper()
	Expect(st).NotTo(BeNil())
	Expect(st.N).To(BeNumerically(">", 0))
	return seq.Calls[st.N-1]
}

// brokenKills lists the kill points that leave no whole file.
func brokenKills(seq *step.Sequence) []string {
	var out []string
	for _, k := range seq.Kills {
		if k.Broken() {
			out = append(out, k.Line())
		}
	}
	return out
}

func faults(st step.State) bool  { return st.Running.FaultAt >= 0 }
func missing(st step.State) bool { return st.Starting.Found == step.FoundMissing }
func torn(st step.State) bool    { return st.Starting.Found == step.FoundTorn }
