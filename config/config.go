package config

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/input"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Config is a parsed ginkgo.yml.
type Config struct {
	Path    string // where it was read from
	Fixture Fixture
	Race    Race
	Writers []string
	Readers []string
	Expect  []Expectation
}

// Fixture says which generated pair to race with.
type Fixture struct {
	Size  int64          // bytes of version A
	Shape fixtures.Shape // B relative to A
	Kind  string         // record shape: "" (plain), fixtures.KindCity or fixtures.KindEnterprise
	// Old and New, when set, race a user's own pair instead of a
	// generated one (paths relative to the config file's directory).
	Old, New string
}

// Spec returns the fixtures.Spec.
func (f Fixture) Spec() fixtures.Spec {
	return fixtures.Spec{Size: f.Size, Shape: f.Shape, Kind: f.Kind}
}

// Race holds the settings of one combination's race.
type Race struct {
	Updates         int
	RunningReaders  int
	StartingReaders int // per update
	Reload          time.Duration
	Gap             time.Duration
	StuckAfter      time.Duration
	Seed            int64
}

// Expectation is the expected verdict of the combinations it matches.
type Expectation struct {
	Writer, Reader string             // a name or "*"
	Verdicts       []verdicts.Verdict // any of these is expected
	Why            string
	Line           int
	// FS and Modes scope the expectation to runs on these file systems
	// (the --fs name, or the kernel's name of the one the run is on:
	// "overlay", "tmpfs", "nfs4") and in these modes (Modes: race, step,
	// power-loss); empty: every one.
	FS, Modes []string
}

// Where is what an expectation's scope is matched against: the file
// system a run is on and its mode.
type Where struct{ FS, Mode string }

// Matches reports whether e applies to writer x reader, whatever its scope.
func (e Expectation) Matches(writer, reader string) bool {
	return (e.Writer == "*" || e.Writer == writer) && (e.Reader == "*" || e.Reader == reader)
}

// Scoped reports whether e applies only to some file systems or modes.
func (e Expectation) Scoped() bool { return len(e.FS) > 0 || len(e.Modes) > 0 }

// In reports whether e's scope takes in w.
func (e Expectation) In(w Where) bool {
	return (len(e.FS) == 0 || slices.Contains(e.FS, w.FS)) && (len(e.Modes) == 0 || slices.Contains(e.Modes, w.Mode))
}

// Allows reports whether v is expected.
func (e Expectation) Allows(v verdicts.Verdict) bool { return slices.Contains(e.Verdicts, v) }

// String renders the expected verdicts: "crash" or "degraded|corrupt".
func (e Expectation) String() string {
	ws := make([]string, len(e.Verdicts))
	for i, v := range e.Verdicts {
		ws[i] = v.String()
	}
	return strings.Join(ws, "|")
}

// Expected returns the first unscoped expectation that matches writer x
// reader: what is expected wherever the run happens.
func (c Config) Expected(writer, reader string) (Expectation, bool) {
	return c.ExpectedIn(writer, reader, Where{})
}

// ExpectedIn returns the first expectation that matches writer x reader
// and whose scope (fs, mode) takes in w; a zero Where takes in only
// unscoped ones.
func (c Config) ExpectedIn(writer, reader string, w Where) (Expectation, bool) {
	for _, e := range c.Expect {
		if e.Matches(writer, reader) && e.In(w) {
			return e, true
		}
	}
	return Expectation{}, false
}

// HasScoped reports whether any expectation is scoped to a file system or
// a mode.
func (c Config) HasScoped() bool {
	return slices.ContainsFunc(c.Expect, Expectation.Scoped)
}

// Default is the configuration used when no file is given.
func Default() Config {
	return Config{
		Fixture: Fixture{Size: 16 << 20, Shape: fixtures.Shrink},
		Race: Race{Updates: 16, RunningReaders: 2, StartingReaders: 1, Reload: 50 * time.Millisecond,
			Gap: 40 * time.Millisecond, StuckAfter: 5 * time.Second, Seed: 1},
	}
}

// MaxSize is the most Load reads: a ginkgo.yml is a few KiB.
const MaxSize = 1 << 20

// Load reads and parses the file at p.
func Load(p string) (Config, error) { return LoadContext(context.Background(), p) }

// LoadContext reads and parses the file at p, at most MaxSize bytes. It
// stops when ctx ends (a FIFO or a terminal that never ends), with an
// error that wraps ctx.Err().
func LoadContext(ctx context.Context, p string) (Config, error) {
	b, err := input.ReadFile(ctx, p, MaxSize, "a config file (ginkgo.yml)")
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, p)
	if err != nil {
		return Config{}, err
	}
	c.Path = p
	for _, f := range []*string{&c.Fixture.Old, &c.Fixture.New} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(p), *f)
		}
	}
	return c, nil
}

// keys lists the keys each mapping may hold.
var keys = map[string][]string{
	"":        {"fixture", "race", "writers", "readers", "expect"},
	"fixture": {"size", "shape", "kind", "old", "new"},
	"race":    {"updates", "running_readers", "starting_readers", "reload", "gap", "stuck_after", "seed"},
	"expect":  {"writer", "reader", "verdict", "why", "fs", "mode"},
}

// Parse reads a ginkgo.yml held in b; name is used in messages.
func Parse(b []byte, name string) (Config, error) {
	name = path.Base(name)
	c := Default()
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return c, fmt.Errorf("%s: not valid YAML: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return c, fmt.Errorf("%s: empty: want the keys %s", name, strings.Join(keys[""], ", "))
	}
	root := doc.Content[0]
	p := parser{name: name}
	p.mapping(root, "", func(k string, v *yaml.Node) {
		switch k {
		case "fixture":
			p.mapping(v, "fixture", func(k string, v *yaml.Node) {
				switch k {
				case "size":
					c.Fixture.Size = p.size(v)
				case "shape":
					c.Fixture.Shape = fixtures.Shape(p.str(v, "fixture.shape"))
				case "kind":
					c.Fixture.Kind = p.str(v, "fixture.kind")
					if !slices.Contains(fixtures.Kinds, c.Fixture.Kind) {
						p.fail(v, "fixture.kind is %q: want %s (GeoIP2-City-shaped records) or %s (GeoIP2-Enterprise), or leave it out for plain records",
							c.Fixture.Kind, fixtures.KindCity, fixtures.KindEnterprise)
					}
				case "old":
					c.Fixture.Old = p.str(v, "fixture.old")
				case "new":
					c.Fixture.New = p.str(v, "fixture.new")
				}
			})
		case "race":
			p.mapping(v, "race", func(k string, v *yaml.Node) {
				switch k {
				case "updates":
					c.Race.Updates = p.int(v, "race.updates", 1, 10000)
				case "running_readers":
					c.Race.RunningReaders = p.int(v, "race.running_readers", 0, 64)
				case "starting_readers":
					c.Race.StartingReaders = p.int(v, "race.starting_readers", 0, 64)
				case "reload":
					c.Race.Reload = p.duration(v, "race.reload")
				case "gap":
					c.Race.Gap = p.duration(v, "race.gap")
				case "stuck_after":
					c.Race.StuckAfter = p.duration(v, "race.stuck_after")
				case "seed":
					c.Race.Seed = int64(p.int(v, "race.seed", 0, 1<<62))
				}
			})
		case "writers":
			c.Writers = p.list(v, "writers")
		case "readers":
			c.Readers = p.list(v, "readers")
		case "expect":
			c.Expect = p.expectations(v)
		}
	})
	if err := errors.Join(p.errs...); err != nil {
		return c, err
	}
	if (c.Fixture.Old == "") != (c.Fixture.New == "") {
		return c, fmt.Errorf("%s: fixture: old and new go together: give both (your own pair) or neither (a generated pair)", name)
	}
	if sz := c.Fixture.Size; sz < 64<<10 || sz > 1<<30 {
		return c, fmt.Errorf("%s: fixture.size is %d bytes: want 64KiB to 1GiB", name, sz)
	}
	if !slices.Contains(fixtures.Shapes(), c.Fixture.Shape) {
		return c, fmt.Errorf("%s: fixture.shape is %q: want %s", name, c.Fixture.Shape, shapeList())
	}
	if err := c.Fixture.Spec().Validate(); err != nil {
		return c, fmt.Errorf("%s: fixture: %w", name, err)
	}
	if c.Race.RunningReaders+c.Race.StartingReaders == 0 {
		return c, fmt.Errorf("%s: race: running_readers and starting_readers are both 0: want at least one reader", name)
	}
	return c, nil
}

func shapeList() string {
	var ss []string
	for _, s := range fixtures.Shapes() {
		ss = append(ss, string(s))
	}
	return strings.Join(ss, ", ")
}

type parser struct {
	name string
	errs []error
}

func (p *parser) fail(n *yaml.Node, format string, a ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, a...)))
}

// mapping walks a mapping node whose allowed keys are keys[section].
func (p *parser) mapping(n *yaml.Node, section string, each func(k string, v *yaml.Node)) {
	where := section
	if where == "" {
		where = "the top level"
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping with the keys %s", where, strings.Join(keys[section], ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if !slices.Contains(keys[section], k) {
			p.fail(n.Content[i], "unknown key %q in %s: known keys are %s", k, where, strings.Join(keys[section], ", "))
			continue
		}
		if seen[k] {
			p.fail(n.Content[i], "key %q appears twice in %s", k, where)
			continue
		}
		seen[k] = true
		each(k, v)
	}
}

func (p *parser) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		p.fail(n, "%s must be a non-empty string", field)
		return ""
	}
	return n.Value
}

func (p *parser) int(n *yaml.Node, field string, lo, hi int) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		p.fail(n, "%s is %q: want a whole number from %d to %d", field, n.Value, lo, hi)
		return 0
	}
	return v
}

func (p *parser) duration(n *yaml.Node, field string) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 {
		p.fail(n, "%s is %q: want a positive duration such as 50ms or 2s", field, n.Value)
		return 0
	}
	return d
}

func (p *parser) size(n *yaml.Node) int64 {
	s, err := ParseSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		p.fail(n, "fixture.size is %q: want a size such as 16MiB, 512KiB or a number of bytes", n.Value)
		return 0
	}
	return s
}

// words reads one word or a list of them (a name, or [name, name]).
func (p *parser) words(n *yaml.Node, field string) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{p.str(n, field)}
	}
	return p.list(n, field)
}

// Modes are the run modes an expectation may be scoped to.
var Modes = []string{"race", "step", "power-loss"}

// modes reads expect.mode: one of Modes or a list of them.
func (p *parser) modes(n *yaml.Node) []string {
	ms := p.words(n, "expect.mode")
	for _, m := range ms {
		if !slices.Contains(Modes, m) {
			p.fail(n, "expect.mode %q: want %s, or a list of them", m, strings.Join(Modes, ", "))
		}
	}
	return ms
}

func (p *parser) list(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s must be a list of names", field)
		return nil
	}
	var out []string
	for _, e := range n.Content {
		if s := p.str(e, field+" entry"); s != "" {
			if slices.Contains(out, s) {
				p.fail(e, "%s lists %q twice", field, s)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) expectations(n *yaml.Node) []Expectation {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "expect must be a list of {writer, reader, verdict, why}")
		return nil
	}
	var out []Expectation
	for _, item := range n.Content {
		e := Expectation{Line: item.Line}
		p.mapping(item, "expect", func(k string, v *yaml.Node) {
			switch k {
			case "writer":
				e.Writer = p.str(v, "expect.writer")
			case "reader":
				e.Reader = p.str(v, "expect.reader")
			case "why":
				e.Why = p.str(v, "expect.why")
			case "fs":
				e.FS = p.words(v, "expect.fs")
			case "mode":
				e.Modes = p.modes(v)
			case "verdict":
				vals := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					vals = v.Content
				}
				for _, x := range vals {
					vd, err := verdicts.Parse(x.Value)
					if err != nil {
						p.fail(x, "expect.verdict: %v", err)
						continue
					}
					e.Verdicts = append(e.Verdicts, vd)
				}
			}
		})
		if item.Kind == yaml.MappingNode && (e.Writer == "" || e.Reader == "" || len(e.Verdicts) == 0) {
			p.fail(item, "an expectation needs writer, reader (a name or \"*\") and verdict")
			continue
		}
		out = append(out, e)
	}
	return out
}

// ParseSize reads "16MiB", "512KiB", "1GiB", "16M" or a plain number of bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}

// CheckNames verifies that every writer and reader the config names is
// known, and that every expectation names a known strategy or "*".
func (c Config) CheckNames(writers, readers []string) error {
	var errs []error
	name := path.Base(c.Path)
	if name == "." || name == "" {
		name = "config"
	}
	for _, w := range c.Writers {
		if !slices.Contains(writers, w) {
			errs = append(errs, fmt.Errorf("%s: writers: unknown writer %q: known writers are %s", name, w, strings.Join(writers, ", ")))
		}
	}
	for _, r := range c.Readers {
		if !slices.Contains(readers, r) {
			errs = append(errs, fmt.Errorf("%s: readers: unknown reader %q: known readers are %s", name, r, strings.Join(readers, ", ")))
		}
	}
	for _, e := range c.Expect {
		if e.Writer != "*" && !slices.Contains(writers, e.Writer) {
			errs = append(errs, fmt.Errorf("%s:%d: expect: unknown writer %q: known writers are %s or *", name, e.Line, e.Writer, strings.Join(writers, ", ")))
		}
		if e.Reader != "*" && !slices.Contains(readers, e.Reader) {
			errs = append(errs, fmt.Errorf("%s:%d: expect: unknown reader %q: known readers are %s or *", name, e.Line, e.Reader, strings.Join(readers, ", ")))
		}
	}
	return errors.Join(errs...)
}
