package matrix_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/testbin"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/writers"
)

// shared is what process 1 prepares for every parallel process.
type shared struct {
	Bin  string
	Pair fixtures.Pair
}

var (
	cfg     config.Config
	plan    harness.Plan
	env     shared
	outDir  string
	started = time.Now()
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMatrix(t *testing.T) {
	RegisterFailHandler(Fail)
	// The Entries are built from ginkgo.yml here, before the suite runs.
	var err error
	if cfg, err = config.Load(envOr("MAPCHAOS_CONFIG", filepath.Join("..", "..", "ginkgo.yml"))); err != nil {
		t.Fatal(err)
	}
	if plan, err = harness.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil); err != nil {
		t.Fatal(err)
	}
	outDir, _ = filepath.Abs(envOr("MAPCHAOS_OUT", filepath.Join("..", "..", "mapchaos-out", "suite")))
	describeMatrix(plan)
	RunSpecs(t, "Matrix Suite")
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	bin, err := testbin.Mapchaos()
	Expect(err).NotTo(HaveOccurred())
	var pair fixtures.Pair
	if cfg.Fixture.Old != "" {
		pair, err = fixtures.LoadPair(cfg.Fixture.Old, cfg.Fixture.New, uint64(cfg.Race.Seed))
	} else {
		pair, err = fixtures.Generate(ctx, cfg.Fixture.Spec(), fixtures.DefaultCacheDir())
	}
	Expect(err).NotTo(HaveOccurred())
	Expect(harness.PrepareOut(outDir)).To(Succeed(), "the suite's output directory (MAPCHAOS_OUT)")
	b, err := json.Marshal(shared{Bin: bin, Pair: pair})
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &env)).To(Succeed())
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// describeMatrix builds one DescribeTable with one Entry per combination.
func describeMatrix(p harness.Plan) {
	var entries []TableEntry
	for _, c := range p.Combos {
		want := "(no expectation)"
		if c.Expected != nil {
			want = c.Expected.String()
		}
		entries = append(entries, Entry(c.Name()+" -> "+want, c,
			Label("writer:"+c.Writer.Name, "reader:"+c.Reader.Name), SpecTimeout(3*time.Minute)))
	}
	DescribeTable("writer x reader", Label("matrix"), Serial,
		func(ctx context.Context, c harness.Combo) {
			run := &harness.Run{Plan: harness.Plan{Config: p.Config, Combos: []harness.Combo{c}}, Pair: env.Pair,
				Out: outDir, Self: env.Bin, Repro: harness.Repro{Program: "go run ./cmd/mapchaos", Seed: p.Config.Race.Seed}}
			placed, err := run.Execute(ctx)
			Expect(err).NotTo(HaveOccurred())
			e := placed[0].Report.Results[0]
			AddReportEntry("mapchaos", e, ReportEntryVisibilityNever)
			Expect(e.WriterError).To(BeEmpty(), "the writer itself failed")
			if c.Expected == nil {
				Skip("no expectation in ginkgo.yml for " + c.Name() + "; observed " + e.Verdict.String())
			}
			Expect(e).To(matchers.HaveVerdict(c.Expected.Verdicts...), "expectation: %s", c.Expected.Why)
		},
		entries,
	)
}

// The report is written once, from every process's results.
var _ = ReportAfterSuite("mapchaos report", func(r Report) {
	rep := reports.Report{Schema: reports.Schema, Run: reports.CaptureRun(outDir)}
	rep.Run.Seed = cfg.Race.Seed
	rep.Run.Mode = "race"
	rep.Run.Config = cfg.Path
	rep.Run.Fixture = harness.FixtureText(env.Pair)
	rep.Run.DurationMS = time.Since(started).Milliseconds()
	for _, spec := range r.SpecReports {
		for _, re := range spec.ReportEntries {
			if re.Name != "mapchaos" {
				continue
			}
			raw := re.Value.AsJSON
			if raw == "" {
				b, err := json.Marshal(re.Value.GetRawValue())
				Expect(err).NotTo(HaveOccurred())
				raw = string(b)
			}
			var e reports.Entry
			Expect(json.Unmarshal([]byte(raw), &e)).To(Succeed())
			rep.Results = append(rep.Results, e)
		}
	}
	if len(rep.Results) == 0 {
		return // nothing raced (filtered out)
	}
	Expect(reports.WriteAll(outDir, rep)).To(Succeed())
	GinkgoWriter.Printf("mapchaos report: %s\n", filepath.Join(outDir, "report.md"))
})
