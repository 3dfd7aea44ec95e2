package mapchaos

import _ "embed" // go:embed of the default config

// defaultConfig is the repository's ginkgo.yml, as it was when the binary
// was built.
//
//go:embed ginkgo.yml
var defaultConfig string

// DefaultConfig returns the repository's ginkgo.yml, built into every
// binary: `mapchaos matrix` and `mapchaos explain` use it when there is no
// ./ginkgo.yml and no --config, and `mapchaos config` prints it, so that a
// binary installed with go install stands alone.
func DefaultConfig() string { return defaultConfig }
