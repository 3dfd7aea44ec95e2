package foreigntest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/onsi/ginkgo/v2"

	"github.com/mapchaos/mapchaos/internal/needs"
)

// Python is the interpreter the example reader runs with: Debian's, where
// python3-maxminddb installs the maxminddb module.
const Python = "/usr/bin/python3"

// PythonReader returns the command of readers/foreign/mmdb_reader.py, with
// "{target}" as its last argument; root is the repository's root, relative
// to the calling spec's directory. The error says what is missing.
func PythonReader(root string) ([]string, error) {
	script, err := filepath.Abs(filepath.Join(root, "readers", "foreign", "mmdb_reader.py"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("the example foreign reader: %w", err)
	}
	if err := exec.Command(Python, "-c", "import maxminddb.extension").Run(); err != nil {
		return nil, fmt.Errorf("python3-maxminddb is not installed (apt-get install python3-maxminddb): %s -c 'import maxminddb.extension': %w", Python, err)
	}
	return []string{Python, script, "{target}"}, nil
}

// RequirePythonReader returns PythonReader(root) for a spec: it skips the
// spec when the reader cannot run here, and fails it under CI (CI set),
// which must install python3-maxminddb.
func RequirePythonReader(root string) []string {
	ginkgo.GinkgoHelper()
	argv, err := PythonReader(root)
	if err != nil {
		needs.Missing(err.Error(), "python3-maxminddb")
	}
	return argv
}
