package explain

import (
	"slices"
	"strings"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/internal/lazyre"
)

// Library is a reader library (or program) that a trace involves.
type Library struct {
	// Name is short: "maxminddb-golang", "geoip2-golang", "libmaxminddb",
	// "maxminddb (Python)", or "a foreign reader".
	Name string `json:"name"`
	// Module is the Go module or the shared object, when known.
	Module string `json:"module,omitempty"`
	// Version is taken from a module cache path ("v1.13.1"), or
	// "vendored" for a vendor/ path.
	Version string `json:"version,omitempty"`
	// Lang is "Go", "C", "Python", "Java" or "" when unknown.
	Lang string `json:"lang,omitempty"`
	// Maps says how the library reads a database, in a few words.
	Maps string `json:"maps,omitempty"`
	// Wrapper: the library calls another reader library (geoip2-golang
	// calls maxminddb-golang) and is not itself where faults happen.
	Wrapper bool `json:"wrapper,omitempty"`
}

// String is "maxminddb-golang v1.13.1".
func (l Library) String() string {
	if l.Version != "" {
		return l.Name + " " + l.Version
	}
	return l.Name
}

// Go reports whether the library is Go code, where SetPanicOnFault works.
func (l Library) Go() bool { return l.Lang == "Go" }

// knownLibrary is a reader library and how to recognise it.
type knownLibrary struct {
	lib Library
	// prefixes of a Go function name (package paths), or substrings of a
	// foreign frame or log line
	goPrefixes []string
	markers    []string
}

// libraries lists the reader libraries explain knows, most specific first.
var libraries = []knownLibrary{
	{lib: Library{Name: "maxminddb-golang", Module: "github.com/oschwald/maxminddb-golang/v2", Lang: "Go",
		Maps: "Open maps the whole file with mmap(MAP_SHARED); OpenBytes reads from a buffer"},
		goPrefixes: []string{"github.com/oschwald/maxminddb-golang/v2"}},
	{lib: Library{Name: "maxminddb-golang", Module: "github.com/oschwald/maxminddb-golang", Lang: "Go",
		Maps: "Open maps the whole file with mmap(MAP_SHARED); FromBytes reads from a buffer"},
		goPrefixes: []string{"github.com/oschwald/maxminddb-golang"}},
	{lib: Library{Name: "geoip2-golang", Module: "github.com/oschwald/geoip2-golang", Lang: "Go", Wrapper: true,
		Maps: "Open calls maxminddb-golang's Open (a shared mapping); FromBytes reads from a buffer"},
		goPrefixes: []string{"github.com/oschwald/geoip2-golang"}},
	{lib: Library{Name: "golang.org/x/exp/mmap", Module: "golang.org/x/exp", Lang: "Go",
		Maps: "maps the whole file with mmap(MAP_SHARED)"},
		goPrefixes: []string{"golang.org/x/exp/mmap"}},
	{lib: Library{Name: "libmaxminddb", Module: "libmaxminddb.so", Lang: "C",
		Maps: "MMDB_open maps the whole file with mmap(MAP_SHARED); it has no in-memory mode"},
		markers: []string{"libmaxminddb", "MMDB_", "_Cfunc_MMDB"}},
	{lib: Library{Name: "maxminddb (Python)", Module: "maxminddb", Lang: "Python",
		Maps: "MODE_MMAP and MODE_MMAP_EXT (libmaxminddb) map the file; MODE_MEMORY reads it into memory"},
		markers: []string{"/maxminddb/", "maxminddb.extension", "maxminddb.reader"}},
	{lib: Library{Name: "MaxMind DB Java reader", Module: "com.maxmind.db", Lang: "Java",
		Maps: "FileMode.MEMORY_MAPPED (the default) maps the file; FileMode.MEMORY reads it into memory"},
		markers: []string{"com.maxmind.db", "com.maxmind.geoip2"}},
}

var versionRE = lazyre.New(`@(v\d+\.\d+\.\d+[^/\s]*)/`)

// pkgOf returns the package path of a Go function name:
// "github.com/a/b.(*T).m" -> "github.com/a/b".
func pkgOf(fn string) string {
	slash := strings.LastIndex(fn, "/")
	if i := strings.Index(fn[slash+1:], "."); i >= 0 {
		return fn[:slash+1+i]
	}
	return fn
}

// std reports whether a Go function belongs to the standard library (its
// first path element has no dot), "main" excepted.
func std(fn string) bool {
	p := pkgOf(fn)
	first, _, _ := strings.Cut(p, "/")
	return p != "main" && !strings.Contains(first, ".")
}

// libraryOf names the reader library of a frame, if it is one.
func libraryOf(f crashes.Frame) (Library, bool) {
	for _, k := range libraries {
		for _, p := range k.goPrefixes {
			if pkg := pkgOf(f.Func); pkg == p || strings.HasPrefix(pkg, p+"/") && !strings.HasPrefix(pkg, p+"/v") {
				l := k.lib
				switch {
				case strings.Contains(f.File, "/vendor/"):
					l.Version = "vendored"
				default:
					if m := versionRE.FindStringSubmatch(f.File); m != nil {
						l.Version = m[1]
					}
				}
				return l, true
			}
		}
		for _, m := range k.markers {
			if strings.Contains(f.Func, m) || strings.Contains(f.File, m) {
				return k.lib, true
			}
		}
	}
	return Library{}, false
}

// libraryIn finds a reader library named anywhere in text (a foreign
// process's output, a gdb backtrace, a Python or Java stack).
func libraryIn(text string) (Library, bool) {
	for _, k := range libraries {
		for _, m := range append(append([]string{}, k.markers...), k.goPrefixes...) {
			if strings.Contains(text, m) {
				return k.lib, true
			}
		}
	}
	return Library{}, false
}

// runtimeFrame reports whether f is the Go runtime, its internal packages,
// an assembly routine without a package (memeqbody, indexbytebody) or the
// pseudo-frame of a panic: frames that are never where a reader's fault
// "is".
func runtimeFrame(f crashes.Frame) bool {
	return f.Runtime() || strings.HasPrefix(f.Func, "internal/") || !strings.Contains(f.Func, ".")
}

// faultFrames returns the frames from where the fault happened on: after
// the last panic or sigpanic frame, skipping the runtime (a fault inside
// runtime.memmove is reported at the first caller outside the runtime).
func faultFrames(frames []crashes.Frame) []crashes.Frame {
	start := 0
	for i, f := range frames {
		if f.Func == "panic" || f.Func == "runtime.gopanic" || f.Func == "runtime.sigpanic" {
			start = i + 1
		}
	}
	for start < len(frames) && runtimeFrame(frames[start]) {
		start++
	}
	return frames[start:]
}

// Frame is one function of a trace, with the library it belongs to.
type Frame struct {
	Func    string `json:"func"`
	File    string `json:"file,omitempty"`
	Library string `json:"library,omitempty"`
}

func frameOf(f crashes.Frame) Frame {
	out := Frame{Func: f.Func, File: f.File}
	if l, ok := libraryOf(f); ok {
		out.Library = l.Name
	}
	return out
}

// blame finds, in the frames from the fault on, the library where the
// fault happened, the wrapper libraries above it, and the first frame of
// the application that called them.
func blame(frames []crashes.Frame) (lib *Library, via []string, caller *Frame) {
	for _, f := range frames {
		l, ok := libraryOf(f)
		switch {
		case ok && lib == nil:
			lib = &l
		case ok && l.Name != lib.Name && !slices.Contains(via, l.Name):
			via = append(via, l.Name)
		case !ok && lib != nil && !std(f.Func) && !runtimeFrame(f):
			fr := frameOf(f)
			return lib, via, &fr
		}
	}
	return lib, via, nil
}
