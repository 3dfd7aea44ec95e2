package readers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/oschwald/maxminddb-golang"
)

// Strategy opens the target. It runs inside the reader child process.
type Strategy interface {
	Open(path string) (DB, error)
}

// DB is an opened target.
type DB interface {
	// Lookup decodes the record for ip into rec (a pointer, such as a
	// *fixtures.Record or a *any) and reports whether one was found.
	Lookup(ip netip.Addr, rec any) (found bool, err error)
	Close() error
}

// Properties are what a strategy is, as data.
type Properties struct {
	// Mapped: the target is memory-mapped (pages are read on demand).
	Mapped bool
	// PanicOnFault: lookups run with debug.SetPanicOnFault(true), and a
	// fault is returned as a *FaultError instead of killing the process.
	PanicOnFault bool
	// Fixture is the fixture kind the strategy needs ("" for any; see
	// fixtures.Kinds).
	Fixture string
}

// Registration is a registered reader strategy.
type Registration struct {
	Name    string
	Summary string
	Properties
	Strategy Strategy
	// Command, when set, makes this a foreign reader: the harness starts
	// this command (with {target} replaced) and drives it over the line
	// protocol instead of starting a reader child. See Foreign.
	Command []string
}

// FaultError is a memory fault caught by a PanicOnFault lookup.
type FaultError struct {
	Addr  uintptr
	Value string // the recovered value, as text
	Stack string // the stack at the fault
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("memory fault at %#x recovered: %s", e.Addr, e.Value)
}

// ErrNeedsReopen is returned by a DB that faulted and refuses lookups until
// the target has been opened again.
var ErrNeedsReopen = errors.New("refusing lookups after a memory fault until the target is reopened")

// Mmap opens the target with maxminddb.Open (a MAP_SHARED mapping of the
// whole file). With PanicOnFault, lookups recover memory faults (the lookup
// goroutine must have called debug.SetPanicOnFault(true), as RunChild does).
type Mmap struct{ PanicOnFault bool }

// Open maps path. With PanicOnFault a fault while Open reads the mapping
// (the file was truncated between its stat and its first reads) is
// recovered too and returned as a *FaultError: protecting only the lookups
// leaves the reopen after a fault unprotected, which is exactly when the
// file is being rewritten. The mapping that maxminddb.Open made before the
// fault is not unmapped (the library returns no handle to it).
func (m Mmap) Open(path string) (db DB, err error) {
	if m.PanicOnFault {
		defer func() {
			if v := recover(); v != nil {
				db, err = nil, fmt.Errorf("maxminddb.Open(%s): %w", path, recoveredError(v))
			}
		}()
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("maxminddb.Open(%s): %w", path, err)
	}
	return &mmapDB{r: r, recover: m.PanicOnFault}, nil
}

type mmapDB struct {
	r       *maxminddb.Reader
	recover bool
	faulted bool
}

func (d *mmapDB) Lookup(ip netip.Addr, rec any) (found bool, err error) {
	if !d.recover {
		return lookup(d.r, ip, rec)
	}
	if d.faulted {
		return false, ErrNeedsReopen
	}
	defer func() {
		if v := recover(); v != nil {
			err = recoveredError(v)
			var fe *FaultError
			if errors.As(err, &fe) {
				d.faulted = true
			}
		}
	}()
	return lookup(d.r, ip, rec)
}

// recoveredError turns a recovered panic value into an error: a
// *FaultError when it carries a fault address (runtime.Error with Addr()),
// a plain error otherwise.
func recoveredError(v any) error {
	buf := make([]byte, 8<<10)
	buf = buf[:runtime.Stack(buf, false)]
	if a, ok := v.(interface{ Addr() uintptr }); ok {
		return &FaultError{Addr: a.Addr(), Value: fmt.Sprint(v), Stack: string(buf)}
	}
	return fmt.Errorf("recovered panic in lookup: %v", v)
}

func (d *mmapDB) Close() error { return d.r.Close() }

// Bytes reads the whole target into memory (os.ReadFile) and decodes it with
// maxminddb.FromBytes. Nothing is mapped.
type Bytes struct{}

// Open reads path.
func (Bytes) Open(path string) (DB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r, err := maxminddb.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("maxminddb.FromBytes(%s, %d bytes): %w", path, len(b), err)
	}
	return bytesDB{r, b}, nil
}

type bytesDB struct {
	r   *maxminddb.Reader
	buf []byte
}

func (d bytesDB) Lookup(ip netip.Addr, rec any) (bool, error) {
	return lookup(d.r, ip, rec)
}
func (d bytesDB) Close() error { return d.r.Close() }

func lookup(r *maxminddb.Reader, ip netip.Addr, rec any) (bool, error) {
	_, ok, err := r.LookupNetwork(net.IP(ip.AsSlice()), rec)
	if err != nil {
		return false, &lookupError{ip: ip, err: err}
	}
	return ok, nil
}

// CodeV1 names the lookup code of Mmap and Bytes DBs (LookupCode):
// maxminddb-golang v1's Reader.LookupNetwork.
const CodeV1 = "maxminddb-golang v1 Reader.LookupNetwork"

// LookupCode says what a lookup in db runs, for a caller that makes one
// lookup of each IP for several DBs that read the same bytes (step mode's
// starting readers): code names the library code ("" when db is not known
// to be such a DB); buf is the buffer it decodes when it holds the file in
// memory (Bytes), nil when it reads a mapping of the file that the library
// made when it was opened (Mmap). Two DBs of the same code over the same
// bytes answer every lookup alike, error texts included, except where a
// lookup panics: a memory fault, or another panic that a PanicOnFault DB
// recovers itself (and after a fault it refuses lookups: ErrNeedsReopen).
func LookupCode(db DB) (code string, buf []byte) {
	switch d := db.(type) {
	case *mmapDB:
		return CodeV1, nil
	case bytesDB:
		return CodeV1, d.buf
	}
	return "", nil
}

// lookupError is a failed lookup: "lookup IP: the library's error". Its
// text is made only when asked for, since on a torn file the library's
// error can quote megabytes of garbage, and callers that count errors
// never ask.
type lookupError struct {
	ip  netip.Addr
	err error
}

func (e *lookupError) Error() string { return fmt.Sprintf("lookup %s: %v", e.ip, e.err) }
func (e *lookupError) Unwrap() error { return e.err }

// Registry holds reader strategies by name.
type Registry struct{ byName map[string]Registration }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byName: map[string]Registration{}} }

// Register adds r. It panics on an empty name, a nil strategy or a duplicate.
func (g *Registry) Register(r Registration) {
	switch {
	case r.Name == "":
		panic("readers: Register with an empty name")
	case r.Strategy == nil:
		panic("readers: Register " + r.Name + " with a nil strategy")
	}
	if _, dup := g.byName[r.Name]; dup {
		panic("readers: Register called twice for " + r.Name)
	}
	g.byName[r.Name] = r
}

// Lookup returns the strategy called name.
func (g *Registry) Lookup(name string) (Registration, error) {
	r, ok := g.byName[name]
	if !ok {
		return Registration{}, fmt.Errorf("unknown reader %q: known readers are %s", name, strings.Join(g.Names(), ", "))
	}
	return r, nil
}

// Names returns the registered names, sorted.
func (g *Registry) Names() []string {
	ns := make([]string, 0, len(g.byName))
	for n := range g.byName {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// All returns every registration, sorted by name.
func (g *Registry) All() []Registration {
	out := make([]Registration, 0, len(g.byName))
	for _, n := range g.Names() {
		out = append(out, g.byName[n])
	}
	return out
}

// Builtin returns the built-in reader strategies.
func Builtin() *Registry {
	g := NewRegistry()
	g.Register(Registration{Name: "mmap", Summary: "maxminddb.Open (memory-mapped), no protection",
		Properties: Properties{Mapped: true}, Strategy: Mmap{}})
	g.Register(Registration{Name: "mmap-recover", Summary: "maxminddb.Open with debug.SetPanicOnFault + recover; reopens after a fault",
		Properties: Properties{Mapped: true, PanicOnFault: true}, Strategy: Mmap{PanicOnFault: true}})
	g.Register(Registration{Name: "mmap-v2", Summary: "maxminddb-golang/v2 Open (memory-mapped, fd closed at once), no protection",
		Properties: Properties{Mapped: true}, Strategy: MmapV2{}})
	g.Register(Registration{Name: "geoip2-city", Summary: "geoip2-golang typed City lookups (maxminddb v1 mmap); needs fixture kind geoip2-city",
		Properties: Properties{Mapped: true, Fixture: fixtures.KindCity}, Strategy: GeoIP2City{}})
	g.Register(Registration{Name: "geoip2-enterprise", Summary: "geoip2-golang typed Enterprise lookups (maxminddb v1 mmap); needs fixture kind geoip2-enterprise",
		Properties: Properties{Mapped: true, Fixture: fixtures.KindEnterprise}, Strategy: GeoIP2Enterprise{}})
	g.Register(Registration{Name: "geoip2-v2-city", Summary: "geoip2-golang/v2 typed City lookups (maxminddb v2 mmap, fd closed at once); needs fixture kind geoip2-city",
		Properties: Properties{Mapped: true, Fixture: fixtures.KindCity}, Strategy: GeoIP2V2City{}})
	g.Register(Registration{Name: "geoip2-v2-enterprise", Summary: "geoip2-golang/v2 typed Enterprise lookups (maxminddb v2 mmap, fd closed at once); needs fixture kind geoip2-enterprise",
		Properties: Properties{Mapped: true, Fixture: fixtures.KindEnterprise}, Strategy: GeoIP2V2Enterprise{}})
	g.Register(Registration{Name: "bytes", Summary: "os.ReadFile + maxminddb.FromBytes; a failed reload keeps the old buffer",
		Strategy: Bytes{}})
	return g
}

// Foreign returns the registration of a foreign reader: a process in any
// language that speaks the line protocol of docs/contracts.md on its stdin and
// stdout. argv is its command; the element "{target}" is replaced by the
// target's path. Race mode drives it from the engine (Command); step mode
// opens it through its Strategy, a ForeignStrategy.
func Foreign(name string, argv []string) (Registration, error) {
	if len(argv) == 0 || argv[0] == "" {
		return Registration{}, errors.New("reader command is empty: want a program and its arguments, with {target} as one of them")
	}
	if !slices.Contains(argv, "{target}") {
		return Registration{}, fmt.Errorf("reader command %q has no {target} argument: the reader would not know which file to open", strings.Join(argv, " "))
	}
	if name == "" {
		name = "exec"
	}
	return Registration{Name: name, Summary: "foreign reader: " + strings.Join(argv, " "),
		Strategy: ForeignStrategy{Argv: append([]string(nil), argv...)}, Command: append([]string(nil), argv...)}, nil
}
