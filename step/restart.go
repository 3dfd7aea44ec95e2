package step

import (
	"fmt"
	"os"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
)

// Restarter opens a target laid out on disk, as a reader (re)started after
// a power loss would, with every reader strategy: the same in-process
// openers as the step probes' starting readers, and a foreign reader (a
// readers.ForeignStrategy) as a real process started on it. Package
// powerloss builds each crash state at Target and calls Look.
type Restarter struct {
	pr      *prober
	old, nw *version
}

// RestartConfig is what a Restarter compares and judges with.
type RestartConfig struct {
	// Target is the path readers open.
	Target string
	// Old and New are pristine copies of the versions, labelled OldName
	// and NewName ("A", "B").
	Old, New         string
	OldName, NewName string
	// Readers open the target; Oracle draws their IPs and judges their
	// answers; Lookups per reader and state (default 256); Seed draws the
	// IPs.
	Readers []readers.Registration
	Oracle  fixtures.Oracle
	Lookups int
	Seed    int64
}

// NewRestarter loads both versions. Close it when done.
func NewRestarter(cfg RestartConfig) (*Restarter, error) {
	if len(cfg.Readers) > 0 && cfg.Oracle == nil {
		return nil, fmt.Errorf("restart: readers without an oracle to judge their answers")
	}
	if cfg.Lookups <= 0 {
		cfg.Lookups = 256
	}
	page := os.Getpagesize()
	old, err := loadVersion(cfg.OldName, cfg.Old, page)
	if err != nil {
		return nil, err
	}
	nw, err := loadVersion(cfg.NewName, cfg.New, page)
	if err != nil {
		old.f.Close()
		return nil, err
	}
	return &Restarter{pr: newProber(cfg.Target, old, nw, cfg.Readers, cfg.Oracle, cfg.Lookups, cfg.Seed), old: old, nw: nw}, nil
}

// Close releases the versions.
func (r *Restarter) Close() {
	r.old.f.Close()
	r.nw.f.Close()
}

// Look says what is at the target now (whole A, empty, torn ...) and what
// a starting reader of each strategy meets there, in the order of the
// readers. Outcomes of content seen before are reused: a starting reader's
// lookups are a pure function of the bytes.
func (r *Restarter) Look() (StartingView, []ReaderOutcome) {
	p := r.pr
	v := p.startingView()
	if len(p.regs) == 0 {
		return v, nil
	}
	start, ok := p.startCache[v.key]
	if !ok {
		start = make([]Outcome, len(p.regs))
		parallel(p.startingJobs(start))
		p.startCache[v.key] = start
	}
	out := make([]ReaderOutcome, len(p.regs))
	for i, rg := range p.regs {
		out[i] = ReaderOutcome{Reader: rg.Name, Starting: start[i]}
	}
	return v, out
}
