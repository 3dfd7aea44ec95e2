package harness

import (
	"errors"
	"fmt"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/writers"
)

// Combo is one combination of a plan: a writer, a reader, and what the
// configuration expects of the pair.
type Combo struct {
	Writer   writers.Strategy
	Reader   readers.Registration
	Expected *config.Expectation // nil when nothing is expected
}

// Name is "writer x reader".
func (c Combo) Name() string { return c.Writer.Name + " x " + c.Reader.Name }

// Judge compares an observed result with the combination's expectation:
// met when the verdict is one it allows (or nothing is expected) and the
// writer itself did not fail.
func (c Combo) Judge(res results.Result) reports.Entry {
	e := reports.Entry{Result: res, Met: res.WriterError == ""}
	if c.Expected != nil {
		e.Expected = c.Expected.String()
		e.Met = e.Met && c.Expected.Allows(res.Verdict)
	}
	return e
}

// Plan is what a run races: the settings of a configuration and its
// combinations, writers in order, each writer's readers in order.
type Plan struct {
	Config config.Config
	Combos []Combo
	// resolved: the expectations come from Config (Resolve), so In may
	// re-pair them with the scoped ones.
	resolved bool
}

// In pairs each combination with what the configuration expects of it
// where the run happens (its file system and mode: fs: and mode: in
// ginkgo.yml). A plan not made by Resolve is returned as it is.
func (p Plan) In(w config.Where) Plan {
	if !p.resolved || !p.Config.HasScoped() {
		return p
	}
	out := p
	out.Combos = make([]Combo, len(p.Combos))
	for i, c := range p.Combos {
		out.Combos[i] = Combo{Writer: c.Writer, Reader: c.Reader}
		if e, ok := p.Config.ExpectedIn(c.Writer.Name, c.Reader.Name, w); ok {
			out.Combos[i].Expected = &e
		}
	}
	return out
}

// Writers lists the writers of the plan in order, once each.
func (p Plan) Writers() []writers.Strategy {
	var out []writers.Strategy
	seen := map[string]bool{}
	for _, c := range p.Combos {
		if !seen[c.Writer.Name] {
			seen[c.Writer.Name] = true
			out = append(out, c.Writer)
		}
	}
	return out
}

// Of lists the combinations of the writer called name.
func (p Plan) Of(name string) []Combo {
	var out []Combo
	for _, c := range p.Combos {
		if c.Writer.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Resolve checks the names in cfg against the registries and lists the
// combinations, writers in config order (all registered when none are
// listed), then readers likewise. onlyWriters/onlyReaders, when not empty,
// narrow the matrix (the --writers/--readers flags); they must name
// registered strategies.
func Resolve(cfg config.Config, ws *writers.Registry, rs *readers.Registry, onlyWriters, onlyReaders []string) (Plan, error) {
	if err := cfg.CheckNames(ws.Names(), rs.Names()); err != nil {
		return Plan{}, err
	}
	wn, rn := cfg.Writers, cfg.Readers
	if len(wn) == 0 {
		wn = ws.Names()
	}
	if len(rn) == 0 { // every reader the fixture suits
		for _, r := range rs.All() {
			if r.Fixture == "" || r.Fixture == cfg.Fixture.Kind {
				rn = append(rn, r.Name)
			}
		}
	}
	var errs []error
	if len(onlyWriters) > 0 {
		errs = append(errs, known("--writers", onlyWriters, ws.Lookup)...)
		wn = onlyWriters
	}
	if len(onlyReaders) > 0 {
		errs = append(errs, known("--readers", onlyReaders, func(n string) (readers.Registration, error) { return rs.Lookup(n) })...)
		rn = onlyReaders
	}
	for _, r := range rn {
		if rr, err := rs.Lookup(r); err == nil {
			errs = append(errs, suits(rr, cfg.Fixture))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Plan{}, err
	}
	p := Plan{Config: cfg, resolved: true}
	for _, w := range wn {
		wr, _ := ws.Lookup(w)
		for _, r := range rn {
			rr, _ := rs.Lookup(r)
			p.Combos = append(p.Combos, Expect(cfg, wr, rr))
		}
	}
	return p, nil
}

// Expect pairs writer w with reader r under what cfg expects of them.
func Expect(cfg config.Config, w writers.Strategy, r readers.Registration) Combo {
	c := Combo{Writer: w, Reader: r}
	if e, ok := cfg.Expected(w.Name, r.Name); ok {
		c.Expected = &e
	}
	return c
}

// known checks that every name is registered.
func known[T any](flag string, names []string, lookup func(string) (T, error)) []error {
	var errs []error
	for _, n := range names {
		if _, err := lookup(n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	return errs
}

// suits says why reader r cannot race on fixture f, or nil when it can.
func suits(r readers.Registration, f config.Fixture) error {
	switch {
	case r.Fixture == "":
		return nil
	case f.Old != "":
		return fmt.Errorf("reader %s checks its answers in the typed fields of a generated %s fixture, so it cannot race your own pair (fixture old/new); race your pair with readers that need no fixture kind", r.Name, r.Fixture)
	case r.Fixture != f.Kind:
		return fmt.Errorf("reader %s needs fixture kind %s (fixture: {kind: %s} in the config)", r.Name, r.Fixture, r.Fixture)
	}
	return nil
}

// Against is the plan of writer w against each of rs, every combination
// held to gate (check's plan). The fixture of cfg becomes the kind the
// readers need: plain, unless one of them makes typed lookups
// (geoip2-city, geoip2-enterprise), whose self-check lives in the typed
// fields of a generated pair of that kind. Two typed readers of different
// kinds, or a typed reader with the user's own pair, are an *InputError.
func Against(cfg config.Config, w writers.Strategy, rs []readers.Registration, gate *config.Expectation) (Plan, error) {
	kind, by := "", ""
	for _, r := range rs {
		switch {
		case r.Fixture == "":
		case cfg.Fixture.Old != "":
			return Plan{}, Badf("--readers: %s checks its answers in the typed fields of a generated %s fixture, so it cannot race your own pair (--old/--new); race your pair with mmap, mmap-recover, mmap-v2, bytes or a foreign reader", r.Name, r.Fixture)
		case kind != "" && r.Fixture != kind:
			return Plan{}, Badf("--readers: %s needs a %s fixture and %s a %s one: check them in separate runs", by, kind, r.Name, r.Fixture)
		default:
			kind, by = r.Fixture, r.Name
		}
	}
	cfg.Fixture.Kind = kind
	p := Plan{Config: cfg}
	for _, r := range rs {
		p.Combos = append(p.Combos, Combo{Writer: w, Reader: r, Expected: gate})
	}
	return p, nil
}

// Readers looks names up in reg, in order, and adds the foreign reader of
// argv when it is not nil: check's --readers and --reader-cmd. Unknown or
// repeated names, and no reader at all, are an *InputError.
func Readers(reg *readers.Registry, names, argv []string) ([]readers.Registration, error) {
	var out []readers.Registration
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		r, err := reg.Lookup(name)
		switch {
		case err != nil && name == "exec":
			errs = append(errs, fmt.Errorf("--readers: %w (a foreign reader is given with --reader-cmd 'PROG {target}')", err))
		case err != nil:
			errs = append(errs, fmt.Errorf("--readers: %w", err))
		case seen[name]:
			errs = append(errs, fmt.Errorf("--readers: %q is listed twice", name))
		default:
			seen[name] = true
			out = append(out, r)
		}
	}
	if argv != nil {
		r, err := readers.Foreign("exec", argv)
		if err != nil {
			errs = append(errs, fmt.Errorf("--reader-cmd: %w", err))
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, badInput(err)
	}
	if len(out) == 0 {
		return nil, Badf("--readers is empty and there is no --reader-cmd: no reader to race the updater against")
	}
	return out, nil
}
