package mapchaos

import (
	"github.com/mapchaos/mapchaos/fixtures"
)

// Option changes how Race races.
type Option func(*options)

// options are Race's settings; the zero value of each field means its
// default.
type options struct {
	updates, running, starting int
	seed                       int64
	fixture                    fixtures.Spec
	cache                      string
	bin                        string
	runDir                     string
	symlink                    bool
	name                       string
}

// DefaultUpdates is the number of updates of a Race unless Updates says
// otherwise: A -> B -> A ... eight times.
const DefaultUpdates = 8

// DefaultSeed is the seed of a Race unless Seed says otherwise.
const DefaultSeed = 1

func newOptions(opts []Option) options {
	o := options{updates: DefaultUpdates, seed: DefaultSeed}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// Updates sets how many updates the writer makes (A -> B, B -> A, ...).
// Default DefaultUpdates.
func Updates(n int) Option { return func(o *options) { o.updates = n } }

// Seed sets the seed of the race: the addresses readers look up, the pauses
// between updates and the step at which starting readers open the target.
// It does not make a race by timing repeat exactly. Default DefaultSeed.
func Seed(n int64) Option { return func(o *options) { o.seed = n } }

// FixtureSize sets the size of version A of the generated fixture pair, in
// bytes (64 KiB to 1 GiB). Default fixtures.DefaultSize (16 MiB).
func FixtureSize(bytes int64) Option { return func(o *options) { o.fixture.Size = bytes } }

// FixtureShape sets the size of version B relative to A: fixtures.Same,
// fixtures.Shrink (the default: an old mapping of A reaches past the end of
// B) or fixtures.Grow.
func FixtureShape(s fixtures.Shape) Option { return func(o *options) { o.fixture.Shape = s } }

// CacheDir sets where generated fixtures are cached. Default
// fixtures.DefaultCacheDir().
func CacheDir(dir string) Option { return func(o *options) { o.cache = dir } }

// Readers sets how many running readers (open before the first update) and
// starting readers (one set per update, opening the target during it) race
// the writer; -1 means none. Default 2 running, 1 starting per update.
func Readers(running, starting int) Option {
	return func(o *options) { o.running, o.starting = running, starting }
}

// ReaderBinary names the mapchaos executable that runs the reader children
// (`mapchaos reader ...`). Without it Race uses $MAPCHAOS_BIN, then
// `mapchaos` in $PATH, then builds one (see Race).
func ReaderBinary(path string) Option { return func(o *options) { o.bin = path } }

// RunDir makes Race run in dir, which must not exist or be empty, and keep
// it afterwards: timeline.log (what the writer did, when), each reader's
// stderr and ring file, the updater's output (writer.log, for a
// writers.Exec). By default Race runs in a new directory under os.TempDir
// and removes it when it returns.
func RunDir(dir string) Option { return func(o *options) { o.runDir = dir } }

// SymlinkTarget lays the target out as a symlink to a data file in the same
// directory (see writers.Install), as symlink-swapping updaters expect.
// Built-in writers that need it get it without this option.
func SymlinkTarget() Option { return func(o *options) { o.symlink = true } }

// WriterName names the writer in the result (default: the built-in name,
// "exec" for a writers.Exec, else the Go type of the writer).
func WriterName(name string) Option { return func(o *options) { o.name = name } }
