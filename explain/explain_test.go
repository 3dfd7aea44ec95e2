package explain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/explain"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

// knownFrom resolves a configuration into the combinations explain knows.
func knownFrom(cfg config.Config) []explain.Combination {
	plan, err := harness.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil)
	Expect(err).NotTo(HaveOccurred())
	return explain.Known(plan, "maxminddb-golang v1.13.1", func(c harness.Combo) string {
		return fmt.Sprintf("mapchaos matrix --writers %s --readers %s --seed %d", c.Writer.Name, c.Reader.Name, cfg.Race.Seed)
	})
}

// projectKnown are the combinations of the project's own ginkgo.yml.
func projectKnown() []explain.Combination {
	cfg, err := config.Load("../ginkgo.yml")
	Expect(err).NotTo(HaveOccurred())
	return knownFrom(cfg)
}

func testdata(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func names(rs []explain.Repro) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name())
	}
	return out
}

// analyze is explain.Analyze with a context that never ends.
func analyze(text string, known []explain.Combination) explain.Explanation {
	GinkgoHelper()
	x, err := explain.Analyze(context.Background(), text, known)
	Expect(err).NotTo(HaveOccurred())
	return x
}

// want is what a trace should be explained as; empty fields are not checked.
type want struct {
	kind         explain.Kind
	signal, code string
	addr         string
	library      string   // Library.Name; "none" for no library
	frame        string   // prefix of the faulting frame's function
	repro        []string // combinations that reproduce it; nil: not checked
	found        string   // part of Found
	note         string   // part of one of the notes
}

// crashing are the project's combinations expected to crash a mapped reader.
var crashing = []string{"cp x mmap", "inplace x mmap"}

func check(x explain.Explanation, w want) {
	GinkgoHelper()
	Expect(x.Kind).To(Equal(w.kind), x.Text())
	Expect(x.MemoryFault).To(Equal(w.kind == explain.Fault || w.kind == explain.Recovered || w.kind == explain.Killed))
	if w.signal != "" {
		Expect(x.Signal).To(Equal(w.signal), "signal")
	}
	if w.code != "" {
		Expect(x.Code).To(Equal(w.code), "si_code")
	}
	if w.addr != "" {
		Expect(x.Addr).To(Equal(w.addr), "fault address")
	}
	if w.library == "none" {
		Expect(x.Library).To(BeNil(), "library")
	} else if w.library != "" {
		Expect(x.Library).NotTo(BeNil(), "library")
		Expect(x.Library.Name).To(Equal(w.library), "library")
	}
	if w.frame != "" {
		Expect(x.Frame).NotTo(BeNil(), "faulting frame")
		Expect(x.Frame.Func).To(HavePrefix(w.frame), "faulting frame")
	}
	if w.repro != nil {
		Expect(names(x.Reproduce)).To(Equal(w.repro), "reproductions")
	}
	if w.found != "" {
		Expect(x.Found).To(ContainSubstring(w.found))
	}
	if w.note != "" {
		Expect(x.Notes).To(ContainElement(ContainSubstring(w.note)))
	}
	if !x.MemoryFault {
		Expect(x.Found).To(HavePrefix("No memory fault found"))
		Expect(x.Fixes).To(BeEmpty())
		Expect(x.Reproduce).To(BeEmpty())
	}
}

var _ = Describe("Analyze", func() {
	DescribeTable("real traces produced on this machine (see testdata/README.md)",
		func(file string, w want) {
			check(analyze(testdata(file), projectKnown()), w)
		},
		Entry("the harness: cp x mmap, fault in the search tree", "harness-cp-mmap.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", addr: "0x7f3280c002a3",
			library: "maxminddb-golang", frame: "github.com/oschwald/maxminddb-golang.nodeReader28.readLeft",
			repro: crashing, found: "died of a memory fault (fatal error: fault)"}),
		Entry("the harness: a fault inside runtime.memmove is blamed on its caller", "harness-cp-mmap-memmove.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR",
			library: "maxminddb-golang", frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeString", repro: crashing}),
		Entry("the harness: a fault in memeqbody under a runtime map lookup, stderr cut at 3000 bytes", "harness-memeqbody-cut.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", addr: "0x7faf914709a4",
			library: "maxminddb-golang", frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeStruct", repro: crashing}),
		Entry("the harness: inplace x mmap", "harness-inplace-mmap.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang",
			frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData", repro: crashing}),
		Entry("geoip2-golang over maxminddb-golang", "geoip2-fatal.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang",
			repro: crashing, found: "in maxminddb-golang (called through geoip2-golang)"}),
		Entry("maxminddb-golang v2", "maxminddb-v2-fatal.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang",
			frame: "github.com/oschwald/maxminddb-golang/v2/internal/decoder.", repro: crashing}),
		Entry("SetPanicOnFault with nothing to recover the panic", "setpanic-unrecovered.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang",
			repro: crashing, found: "nothing recovered it"}),
		Entry("SetPanicOnFault, recovered and re-panicked", "setpanic-repanicked.txt", want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang",
			frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData", repro: crashing,
			found: "recovered and then raised again"}),
		Entry("SetPanicOnFault, recovered and logged with debug.Stack", "setpanic-recovered-logged.txt", want{
			kind: explain.Recovered, library: "maxminddb-golang",
			frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData",
			repro: []string{"cp x mmap-recover", "inplace x mmap-recover"}, note: "Addr()"}),
		Entry("a foreign reader under bash", "python-mmap-bash.txt", want{
			kind: explain.Killed, signal: "SIGBUS", library: "a Python reader", repro: crashing,
			found: "A process (python3 reader.py t.mmdb) was killed by SIGBUS"}),
		Entry("a foreign reader with faulthandler", "python-faulthandler.txt", want{
			kind: explain.Killed, signal: "SIGBUS", library: "a Python reader", repro: crashing}),
		Entry("os/exec's error for a child killed by SIGBUS", "go-exec-signal.txt", want{
			kind: explain.Killed, signal: "SIGBUS", library: "a foreign reader", repro: crashing}),
		Entry("a nil map write", "go-nil-map.txt", want{
			kind: explain.Other, frame: "main.main", found: "a write to a nil map"}),
		Entry("a deadlock", "go-deadlock.txt", want{
			kind: explain.Other, found: "a deadlock"}),
	)

	DescribeTable("what pasting does to a real trace",
		func(paste func(string) string, w want) {
			w.kind, w.signal, w.code, w.repro = explain.Fault, "SIGBUS", "BUS_ADRERR", crashing
			if w.library == "" {
				w.library = "maxminddb-golang"
			}
			check(analyze(paste(testdata("harness-cp-mmap.txt")), projectKnown()), w)
		},
		Entry("nothing", func(s string) string { return s }, want{addr: "0x7f3280c002a3", frame: readLeft}),
		Entry("Kubernetes CRI log lines", eachLine(func(l string) string { return "2026-11-30T05:40:30.118823901Z stderr F " + l }), want{addr: "0x7f3280c002a3", frame: readLeft}),
		Entry("CRI partial lines (P), split every 50 bytes", criPartial, want{addr: "0x7f3280c002a3", frame: readLeft}),
		Entry("journald", eachLine(func(l string) string { return "Nov 30 05:40:30 node-7 geo[4242]: " + l }), want{frame: readLeft}),
		Entry("docker compose", eachLine(func(l string) string { return "geo-1  | " + l }), want{frame: readLeft}),
		Entry("kubectl logs --prefix", eachLine(func(l string) string { return "[pod/geo-7d9f/geo] " + l }), want{frame: readLeft}),
		Entry("docker's JSON log records", eachLine(func(l string) string {
			b, _ := json.Marshal(map[string]string{"log": l + "\n", "stream": "stderr", "time": "2026-11-30T05:40:30.1Z"})
			return string(b)
		}), want{frame: readLeft}),
		Entry("CRLF line ends", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }, want{addr: "0x7f3280c002a3", frame: readLeft}),
		Entry("ANSI colours", func(s string) string {
			return strings.Replace(s, "fatal error: fault", "\x1b[1;31mfatal error: fault\x1b[0m", 1)
		}, want{frame: readLeft}),
		Entry("lines hard-wrapped at 60 columns", hardWrap(60), want{addr: "0x7f3280c002a3", frame: readLeft}),
		Entry("tabs turned into spaces", func(s string) string { return strings.ReplaceAll(s, "\t", "    ") }, want{frame: readLeft}),
		Entry("inside a Markdown code fence", func(s string) string { return "```\n" + s + "\n```\n" }, want{frame: readLeft}),
		Entry("quoted in a reply", eachLine(func(l string) string { return "> " + l }), want{frame: readLeft}),
		Entry("cut at the bottom, before any frame outside the runtime", func(s string) string {
			return strings.Join(strings.Split(s, "\n")[:9], "\n")
		}, want{library: "none", note: "before any frame outside the Go runtime"}),
		Entry("cut at the top: frames without the headline or the goroutine header", func(s string) string {
			ls := strings.Split(s, "\n")
			return "[signal SIGBUS: bus error code=0x2 addr=0x7f3280c002a3 pc=0x602779]\n" + strings.Join(ls[6:], "\n")
		}, want{frame: readLeft, note: "cut at the top"}),
		Entry("between other log lines, twice", func(s string) string {
			return "INFO serving on :8080\nINFO reloading GeoLite2-City.mmdb\n" + s + "\nINFO restarted\n" + s
		}, want{frame: readLeft, note: "holds 2 fault traces"}),
	)

	DescribeTable("hand-written traces",
		func(text string, w want) {
			check(analyze(text, projectKnown()), w)
		},
		Entry("arm64 in Kubernetes, vendored, through geoip2-golang", arm64Vendored, want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", addr: "0xffff8a3c2000", library: "maxminddb-golang",
			frame: "github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData", repro: crashing, note: "arm64"}),
		Entry("a shell's Bus error", "./geo-server --db /var/lib/GeoIP/GeoLite2-City.mmdb\nBus error (core dumped)\n", want{
			kind: explain.Killed, signal: "SIGBUS", library: "a foreign reader", repro: crashing, note: "si_code is not in the input"}),
		Entry("zsh", "zsh: bus error  ./geo-server\n", want{kind: explain.Killed, signal: "SIGBUS", repro: crashing}),
		Entry("exit status 135", "geo-server exited: exit status 135\n", want{kind: explain.Killed, signal: "SIGBUS", repro: crashing}),
		Entry("Kubernetes: Exit Code 135", "    State:          Terminated\n      Reason:       Error\n      Exit Code:    135\n", want{kind: explain.Killed, signal: "SIGBUS"}),
		Entry("Killed by signal 7", "worker 3: Killed by signal 7\n", want{kind: explain.Killed, signal: "SIGBUS", repro: crashing}),
		Entry("systemd", "geo.service: Main process exited, code=killed, status=7/BUS\n", want{kind: explain.Killed, signal: "SIGBUS"}),
		Entry("gdb in libmaxminddb", gdbLibmaxminddb, want{
			kind: explain.Killed, signal: "SIGBUS", library: "libmaxminddb", repro: crashing}),
		Entry("Python faulthandler in the maxminddb module", pythonMaxminddb, want{
			kind: explain.Killed, signal: "SIGBUS", library: "maxminddb (Python)", repro: crashing}),
		Entry("a JVM crash with its siginfo", jvmCrash, want{
			kind: explain.Killed, signal: "SIGBUS", code: "BUS_ADRERR", addr: "0x00007f3a2c001000", repro: crashing}),
		Entry("the JVM's InternalError for a mapped buffer", jvmInternalError, want{
			kind: explain.Recovered, signal: "SIGBUS", library: "MaxMind DB Java reader",
			repro: []string{"cp x mmap-recover", "inplace x mmap-recover"}}),
		Entry("the harness's own recovered fault", "lookup 11.2.3.4: memory fault at 0x7f3a2c001000 recovered: runtime error: invalid memory address or nil pointer dereference\n", want{
			kind: explain.Recovered, addr: "0x7f3a2c001000", repro: []string{"cp x mmap-recover", "inplace x mmap-recover"}}),
		Entry("a segmentation fault", "Segmentation fault (core dumped)\n", want{
			kind: explain.Killed, signal: "SIGSEGV", repro: []string{}}),
		Entry("the kernel's segfault line in libmaxminddb", "[812345.123456] geo[4242]: segfault at 7f3a2c001000 ip 00007f3a2bf0c1d2 sp 00007ffd5e1c2a30 error 4 in libmaxminddb.so.0.0.7[7f3a2bf08000+6000]\n", want{
			kind: explain.Killed, signal: "SIGSEGV", code: "SEGV_MAPERR", addr: "0x7f3a2c001000", library: "libmaxminddb", repro: []string{}}),
		Entry("a Go SIGSEGV at a mapped address: a use after Close", strings.NewReplacer("SIGBUS: bus error code=0x2", "SIGSEGV: segmentation violation code=0x1").Replace(goFault), want{
			kind: explain.Fault, signal: "SIGSEGV", code: "SEGV_MAPERR", library: "maxminddb-golang", repro: []string{}}),
		Entry("BUS_OBJERR: an I/O error, not an updater", strings.Replace(goFault, "code=0x2", "code=0x3", 1), want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_OBJERR", repro: []string{}}),
		Entry("a fault in cgo (libmaxminddb)", cgoFault, want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "libmaxminddb", repro: crashing, found: "outside Go code"}),
		Entry("qemu-user: a SIGBUS without its address", qemuUser, want{
			kind: explain.Fault, signal: "SIGBUS", code: "BUS_ADRERR", library: "maxminddb-golang", repro: crashing, note: "qemu-user"}),
		Entry("a nil pointer dereference", "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\ngoroutine 1 [running]:\nmain.handler(0x0)\n\t/src/app/main.go:42 +0x1c\n", want{
			kind: explain.Other, frame: "main.handler", found: "a nil pointer dereference"}),
		Entry("the kernel's OOM killer", "[99.1] Out of memory: Killed process 4242 (geo) total-vm:4194304kB, anon-rss:2097152kB\n", want{
			kind: explain.Other, found: "OOM killer"}),
		Entry("exit status 137", "geo-server: exit status 137\n", want{kind: explain.Other, signal: "SIGKILL", found: "SIGKILL"}),
		Entry("Aborted", "Aborted (core dumped)\n", want{kind: explain.Other, signal: "SIGABRT", found: "GOTRACEBACK=crash"}),
		Entry("concurrent map writes", "fatal error: concurrent map writes\n\ngoroutine 7 [running]:\nmain.store(...)\n\t/src/app/cache.go:12\n", want{
			kind: explain.Other, found: "data race on a map"}),
		Entry("an ordinary log", "INFO listening on :8080\nWARN slow lookup 120ms\n", want{kind: explain.Nothing}),
	)

	It("derives the reproductions from the expectations, not from a list of its own", func() {
		cfg, err := config.Parse([]byte(`
writers: [cp, rename, inplace]
readers: [mmap, bytes]
race: {seed: 7}
expect:
  - {writer: rename, reader: mmap, verdict: crash, why: "pretend"}
  - {writer: cp, reader: mmap, verdict: safe, why: "pretend"}
  - {writer: inplace, reader: bytes, verdict: crash, why: "not a mapped reader"}
`), "ginkgo.yml")
		Expect(err).NotTo(HaveOccurred())
		x := analyze(testdata("harness-cp-mmap.txt"), knownFrom(cfg))
		Expect(names(x.Reproduce)).To(Equal([]string{"rename x mmap"}))
		Expect(x.Reproduce[0].Command).To(Equal("mapchaos matrix --writers rename --readers mmap --seed 7"))
		Expect(x.Reproduce[0].Why).To(Equal("pretend"))
	})

	It("says why it names no combination when it was given none", func() {
		x := analyze(testdata("harness-cp-mmap.txt"), nil)
		Expect(x.Reproduce).To(BeEmpty())
		Expect(x.ReproduceNote).To(ContainSubstring("No combinations with expectations were given"))
	})

	It("orders the fixes by preference and backs them with the expectations", func() {
		x := analyze(testdata("harness-cp-mmap.txt"), projectKnown())
		var titles []string
		for _, f := range x.Fixes {
			titles = append(titles, f.Title)
			Expect(f.Cost).NotTo(BeEmpty(), f.Title)
		}
		Expect(titles).To(Equal([]string{
			"Replace the file atomically",
			"Swap a symlink atomically",
			"Read the file into memory",
			"Last resort: debug.SetPanicOnFault + recover + reopen",
		}))
		Expect(x.Fixes[0].Here).To(ContainElement("rename x mmap: safe"))
		Expect(x.Fixes[2].How).To(ContainSubstring("maxminddb.FromBytes"))
		Expect(x.Fixes[2].Here).To(ContainElement("cp x bytes: degraded|corrupt"))
		Expect(x.Fixes[3].Here).To(ContainElement("cp x mmap-recover: recovered|corrupt"))
		Expect(x.Patterns).To(HaveLen(3))
	})

	DescribeTable("speaks the reader's language in the in-memory fix",
		func(file, how string) {
			x := analyze(testdata(file), projectKnown())
			Expect(x.Fixes).To(ContainElement(HaveField("How", ContainSubstring(how))))
		},
		Entry("geoip2-golang", "geoip2-fatal.txt", "geoip2.FromBytes"),
		Entry("maxminddb-golang v2", "maxminddb-v2-fatal.txt", "maxminddb.OpenBytes"),
		Entry("Python", "python-faulthandler.txt", "MODE_MEMORY"),
	)

	It("offers no SetPanicOnFault to a reader that is not Go", func() {
		for _, text := range []string{gdbLibmaxminddb, cgoFault, "Bus error (core dumped)"} {
			x := analyze(text, projectKnown())
			Expect(x.Fixes).NotTo(ContainElement(HaveField("Title", ContainSubstring("SetPanicOnFault"))), text)
		}
	})

	It("tells a recovering reader that recovering does not stop wrong answers", func() {
		x := analyze(testdata("setpanic-recovered-logged.txt"), projectKnown())
		Expect(x.Cause).To(ContainSubstring("wrong answers are served without an error"))
		Expect(x.Fixes[3].Title).To(ContainSubstring("already in place"))
	})

	It("renders every section of the text, and JSON with the schema", func() {
		x := analyze(testdata("geoip2-fatal.txt"), projectKnown())
		t := x.Text()
		for _, s := range []string{"What happened", "Likely cause", "Reproduce it here", "Fixes, in order of preference",
			"faulting frame: github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData",
			"called through: geoip2-golang", "called from: main.lookupAll",
			"$ mapchaos matrix --writers cp --readers mmap --seed 42", "rsync --inplace", "Cost:"} {
			Expect(t).To(ContainSubstring(s))
		}
		b, err := json.Marshal(x)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(`"schema":"mapchaos.explain/v1"`))
		Expect(string(b)).To(ContainSubstring(`"kind":"fault"`))
	})
})

var _ = Describe("Compare", func() {
	x := func() explain.Explanation { return analyze(testdata("geoip2-fatal.txt"), nil) }

	DescribeTable("grades what a run observed against the pasted signature",
		func(o explain.Observed, match explain.Match, text string) {
			c := x().Compare(o)
			Expect(c.Match).To(Equal(match))
			Expect(c.Text).To(ContainSubstring(text))
		},
		Entry("the same fault in the same library", explain.Observed{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash,
			Signal: "SIGBUS", Code: "BUS_ADRERR", Trace: testdata("harness-cp-mmap.txt")}, explain.Same, "the same signature"),
		Entry("the same fault in another library", explain.Observed{Writer: "cp", Reader: "exec", Verdict: verdicts.Crash,
			Signal: "SIGBUS", Code: "BUS_ADRERR", Trace: gdbLibmaxminddb}, explain.LibraryDiffers, "the pasted one is in maxminddb-golang"),
		Entry("another signal", explain.Observed{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash,
			Signal: "SIGSEGV", Code: "SEGV_MAPERR"}, explain.SignalDiffers, "a different signature"),
		Entry("no fault this time", explain.Observed{Writer: "cp", Reader: "mmap", Verdict: verdicts.Degraded},
			explain.NoFaultObserved, "timing decides"),
	)

	It("cannot match the library of a reader that the paste does not name", func() {
		shell := analyze("Bus error (core dumped)", nil)
		c := shell.Compare(explain.Observed{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash,
			Signal: "SIGBUS", Code: "BUS_ADRERR", Trace: testdata("harness-cp-mmap.txt")})
		Expect(c.Match).To(Equal(explain.SameSignal))
		Expect(c.Matches()).To(BeTrue())
		Expect(c.Text).To(ContainSubstring("the pasted output does not name its library"))
	})

	It("takes the signal and code from the evidence of a report entry", func() {
		e := reports.Entry{Result: results.Result{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash,
			Evidence: &results.Evidence{Signal: "SIGBUS", Code: "BUS_ADRERR", Stderr: testdata("harness-cp-mmap.txt")}}}
		c := x().Compare(explain.ObservedFrom(e, ""))
		Expect(c.Match).To(Equal(explain.Same))
		Expect(c.Library).To(Equal("maxminddb-golang v1.13.1"))
		Expect(c.Frame).To(Equal("github.com/oschwald/maxminddb-golang.nodeReader28.readLeft"))
	})

	It("counts a run whose readers recovered faults as the same as a recovered fault", func() {
		r := analyze(testdata("setpanic-recovered-logged.txt"), nil)
		c := r.Compare(explain.Observed{Writer: "cp", Reader: "mmap-recover", Verdict: verdicts.Corrupt, Faults: 15})
		Expect(c.Matches()).To(BeTrue())
		Expect(c.Text).To(ContainSubstring("recovered 15 memory faults"))
	})
})

var _ = Describe("Validate and Decode", func() {
	DescribeTable("refuse what is not a text trace",
		func(input []byte, is error, msg string) {
			err := explain.Validate(input)
			Expect(err).To(MatchError(is))
			Expect(err.Error()).To(ContainSubstring(msg))
		},
		Entry("nothing", []byte{}, explain.ErrEmpty, "no input"),
		Entry("only blanks", []byte(" \n\t\r\n"), explain.ErrEmpty, "no input"),
		Entry("a core dump", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), explain.ErrBinary, "ELF"),
		Entry("gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0}, explain.ErrBinary, "gunzip"),
		Entry("random bytes", []byte{0, 1, 2, 3, 0xff, 0xfe, 0xfd, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, explain.ErrBinary, "not text"),
	)

	It("accepts UTF-16 with a byte order mark, as Windows tools save it", func() {
		var b []byte
		b = append(b, 0xff, 0xfe)
		for _, r := range "Bus error (core dumped)\n" {
			b = append(b, byte(r), 0)
		}
		Expect(explain.Validate(b)).To(Succeed())
		x := analyze(explain.Decode(b), nil)
		Expect(x.Signal).To(Equal("SIGBUS"))
	})
})

const readLeft = "github.com/oschwald/maxminddb-golang.nodeReader28.readLeft"

func eachLine(f func(string) string) func(string) string {
	return func(s string) string {
		ls := strings.Split(s, "\n")
		for i, l := range ls {
			ls[i] = f(l)
		}
		return strings.Join(ls, "\n")
	}
}

// criPartial writes each line as CRI records of at most 50 bytes, all but
// the last marked P (partial).
func criPartial(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for len(l) > 50 {
			out = append(out, "2026-11-30T05:40:30.1Z stderr P "+l[:50])
			l = l[50:]
		}
		out = append(out, "2026-11-30T05:40:30.1Z stderr F "+l)
	}
	return strings.Join(out, "\n")
}

// hardWrap breaks every line at n columns, as a terminal or a log viewer does.
func hardWrap(n int) func(string) string {
	return func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			for len(l) > n {
				out = append(out, l[:n])
				l = l[n:]
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
}

const arm64Vendored = `2026-11-28T03:12:44.118823901Z stderr F unexpected fault address 0xffff8a3c2000
2026-11-28T03:12:44.118901233Z stderr F fatal error: fault
2026-11-28T03:12:44.118907012Z stderr F [signal SIGBUS: bus error code=0x2 addr=0xffff8a3c2000 pc=0x2a51c4]
2026-11-28T03:12:44.118911110Z stderr F
2026-11-28T03:12:44.118915551Z stderr F goroutine 87 gp=0x4000583dc0 m=5 mp=0x4000100808 [running]:
2026-11-28T03:12:44.118919332Z stderr F runtime.throw({0x6b27a1?, 0x4000591b58?})
2026-11-28T03:12:44.118923111Z stderr F 	/usr/local/go/src/runtime/panic.go:1101 +0x38 fp=0x4000591af0 sp=0x4000591ac0 pc=0x96518
2026-11-28T03:12:44.118927020Z stderr F runtime.sigpanic()
2026-11-28T03:12:44.118930887Z stderr F 	/usr/local/go/src/runtime/signal_unix.go:922 +0x130 fp=0x4000591b50 sp=0x4000591af0 pc=0x98370
2026-11-28T03:12:44.118934670Z stderr F github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData(...)
2026-11-28T03:12:44.118938500Z stderr F 	/app/vendor/github.com/oschwald/maxminddb-golang/decoder.go:99
2026-11-28T03:12:44.118942303Z stderr F github.com/oschwald/maxminddb-golang.(*decoder).decode(0x40001f2040, 0x9d1f13, {0x5b3f20?, 0x4000122a80?, 0x4000591c88?}, 0x0)
2026-11-28T03:12:44.118946087Z stderr F 	/app/vendor/github.com/oschwald/maxminddb-golang/decoder.go:45 +0x44 fp=0x4000591bb0 sp=0x4000591b50 pc=0x2a51c4
2026-11-28T03:12:44.118949901Z stderr F github.com/oschwald/geoip2-golang.(*Reader).City(0x40001a0030, {0x4000164e40, 0x10, 0x10})
2026-11-28T03:12:44.118953700Z stderr F 	/app/vendor/github.com/oschwald/geoip2-golang/reader.go:350 +0xb4 fp=0x4000591d20 sp=0x4000591c90 pc=0x2a9a54
2026-11-28T03:12:44.118957511Z stderr F example.com/geo/internal/lookup.(*Service).Resolve(0x40001b6000, {0x4000164e30?, 0xd?})
2026-11-28T03:12:44.118961300Z stderr F 	/app/internal/lookup/service.go:61 +0x98 fp=0x4000591da0 sp=0x4000591d20 pc=0x2ab0c8
`

// goFault is a short Go fault trace to vary.
const goFault = `unexpected fault address 0x7f3a2c001000
fatal error: fault
[signal SIGBUS: bus error code=0x2 addr=0x7f3a2c001000 pc=0x5ac1ce]

goroutine 12 [running]:
runtime.throw({0x710a61?, 0x10?})
	/usr/local/go/src/runtime/panic.go:1229 +0x48
runtime.sigpanic()
	/usr/local/go/src/runtime/signal_unix.go:928 +0x10a
github.com/oschwald/maxminddb-golang.(*Reader).traverseTree(0xc0000b2000, {0xc000012345, 0x10, 0x10}, 0x0, 0x80)
	/go/pkg/mod/github.com/oschwald/maxminddb-golang@v1.13.1/reader.go:286 +0xbe
main.lookup(...)
	/src/app/main.go:30
`

const qemuUser = `panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGBUS: bus error code=0x2 addr=0x0 pc=0x2a51c4]

goroutine 1 [running]:
github.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData(...)
	/root/go/pkg/mod/github.com/oschwald/maxminddb-golang@v1.13.1/decoder.go:97
main.main()
	/src/app/main.go:17 +0x25
`

const cgoFault = `fatal error: unexpected signal during runtime execution
[signal SIGBUS: bus error code=0x2 addr=0x7f3a2c001000 pc=0x7f3a2bf0c1d2]

runtime stack:
runtime.throw({0x5c2b1e?, 0x0?})
	/usr/local/go/src/runtime/panic.go:1101 +0x48
runtime.sigpanic()
	/usr/local/go/src/runtime/signal_unix.go:939 +0x26a

goroutine 1 gp=0xc000002380 m=0 mp=0x6f3e40 [syscall]:
runtime.cgocall(0x4a1f30, 0xc00005ed38)
	/usr/local/go/src/runtime/cgocall.go:167 +0x4b
example.com/geo/mmdb._Cfunc_MMDB_lookup_string(0xc00001a0c0, 0xc000016080, 0xc00005ed9c, 0xc00005ed98)
	_cgo_gotypes.go:210 +0x4e
example.com/geo/mmdb.(*DB).Lookup(0xc00001a0c0, {0x4c8d8e, 0x7})
	/src/geo/mmdb/mmdb.go:48 +0x9a
main.main()
	/src/geo/main.go:21 +0x5c
`

const gdbLibmaxminddb = `Program received signal SIGBUS, Bus error.
0x00007ffff7fb51d2 in ?? () from /lib/x86_64-linux-gnu/libmaxminddb.so.0
(gdb) bt
#0  0x00007ffff7fb51d2 in ?? () from /lib/x86_64-linux-gnu/libmaxminddb.so.0
#1  0x00007ffff7fb5f70 in MMDB_lookup_sockaddr () from /lib/x86_64-linux-gnu/libmaxminddb.so.0
#2  0x00007ffff7fb6104 in MMDB_lookup_string () from /lib/x86_64-linux-gnu/libmaxminddb.so.0
#3  0x0000555555555269 in main ()
`

const pythonMaxminddb = `Fatal Python error: Bus error

Current thread 0x00007f5e1b2e8740 (most recent call first):
  File "/usr/lib/python3/dist-packages/maxminddb/decoder.py", line 143 in _read_extended
  File "/usr/lib/python3/dist-packages/maxminddb/reader.py", line 181 in _find_address_in_tree
  File "/srv/geo/app.py", line 22 in lookup
`

const jvmCrash = `#
# A fatal error has been detected by the Java Runtime Environment:
#
#  SIGBUS (0x7) at pc=0x00007f3a2bf0c1d2, pid=1, tid=27
#
siginfo: si_signo: 7 (SIGBUS), si_code: 2 (BUS_ADRERR), si_addr: 0x00007f3a2c001000
`

const jvmInternalError = `Exception in thread "main" java.lang.InternalError: a fault occurred in an unsafe memory access operation
	at java.base/jdk.internal.misc.ScopedMemoryAccess.getByteInternal(ScopedMemoryAccess.java:1234)
	at java.base/java.nio.DirectByteBuffer.get(DirectByteBuffer.java:357)
	at com.maxmind.db.Decoder.decode(Decoder.java:132)
	at com.maxmind.db.Reader.get(Reader.java:150)
`

// appLog returns about n bytes of an application's log lines, of varied
// widths: what surrounds a crash in `kubectl logs`.
func appLog(n int) string {
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "2026-11-30T05:%02d:%02d.%03dZ INFO lookup %d.%d.%d.%d -> city %d in %dus\n",
			rng.IntN(60), rng.IntN(60), rng.IntN(1000), rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256),
			rng.IntN(100000), rng.IntN(5000))
	}
	return b.String()
}

var _ = Describe("Analyze on a large log", func() {
	It("explains a trace after megabytes of log as it explains the trace alone", func() {
		for _, file := range []string{"harness-cp-mmap.txt", "python-mmap-bash.txt", "setpanic-recovered-logged.txt", "go-nil-map.txt"} {
			alone := analyze(testdata(file), projectKnown())
			Expect(analyze(appLog(4<<20)+testdata(file), projectKnown())).To(Equal(alone), file)
		}
	})

	It("finds nothing in base64 noise, whose lines of one width read as a hard-wrapped line", func() {
		x := analyze(noise(2<<20), nil)
		Expect(x.Kind).To(Equal(explain.Nothing))
		Expect(x.Notes).To(ConsistOf(ContainSubstring("wrapped by the log system")))
	})

	It("joins the partial records of a line split by the container runtime, however many", func() {
		long := strings.Repeat("x", 1<<20) + " [signal SIGBUS: bus error code=0x2 addr=0x7f3280c002a3 pc=0x602779]"
		x := analyze(criPartial(long), nil)
		Expect(x.Signal).To(Equal("SIGBUS"))
		Expect(x.Addr).To(Equal("0x7f3280c002a3"))
	})

	It("stops when its context ends", func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := explain.Analyze(ctx, testdata("harness-cp-mmap.txt"), nil)
		Expect(err).To(MatchError(context.Canceled))

		log := appLog(20 << 20)
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(5*time.Millisecond, cancel) // far less than 20 MiB take: it ends mid-way
		_, err = explain.Analyze(ctx, log, nil)
		Expect(err).To(MatchError(context.Canceled))
		Expect(err).To(MatchError(ContainSubstring("explain stopped")))
	})
})
