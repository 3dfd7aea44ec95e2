package explain

import (
	"os"
	"path/filepath"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/reports"
)

// Matching lists the combinations of plan that x names as reproducing it
// (Reproduce), in that order.
func (x Explanation) Matching(plan harness.Plan) []harness.Combo {
	var out []harness.Combo
	for _, want := range x.Reproduce {
		for _, c := range plan.Combos {
			if c.Writer.Name == want.Writer && c.Reader.Name == want.Reader {
				out = append(out, c)
			}
		}
	}
	return out
}

// NothingToRace says why no combination reproduces x.
func (x Explanation) NothingToRace() string {
	if !x.MemoryFault {
		return "the input shows no memory fault"
	}
	return x.ReproduceNote
}

// Record compares what each combination of r showed in rep (the report of
// racing x.Matching) with the pasted trace, and records it in
// x.Reproduced; keep names each combination's run directory there.
func (x *Explanation) Record(r *harness.Run, rep reports.Report, keep bool) {
	for i, e := range rep.Results {
		c := r.Plan.Combos[i]
		stderr := ""
		if e.Evidence != nil && e.Evidence.Reader != "" {
			b, _ := os.ReadFile(filepath.Join(r.DirOf(c), "readers", e.Evidence.Reader+".stderr"))
			stderr = string(b)
		}
		o := ObservedFrom(e, stderr)
		if keep {
			o.Dir = r.DirOf(c)
		}
		x.Reproduced = append(x.Reproduced, x.Compare(o))
	}
}
