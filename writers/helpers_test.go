package writers_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

// randomBytes returns n reproducible pseudo-random bytes for seed.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// writeFile writes data to dir/name and returns the path.
func writeFile(dir, name string, data []byte) string {
	GinkgoHelper()
	p := filepath.Join(dir, name)
	Expect(os.WriteFile(p, data, 0o644)).To(Succeed())
	return p
}

// mkdir makes dir/name and returns its path.
func mkdir(dir, name string) string {
	GinkgoHelper()
	p := filepath.Join(dir, name)
	Expect(os.Mkdir(p, 0o755)).To(Succeed())
	return p
}

// digest summarizes bytes so that failures print a short line, not megabytes.
func digest(b []byte) string {
	return fmt.Sprintf("sha256 %.8x (%d bytes)", sha256.Sum256(b), len(b))
}

// expectContent checks that path (followed if a symlink) holds want.
func expectContent(path string, want []byte) {
	GinkgoHelper()
	got, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(digest(got)).To(Equal(digest(want)), "content of %s", path)
}

// names lists the entries of dir.
func names(dir string) []string {
	GinkgoHelper()
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

// dataFile matches the data files of a symlink target db.mmdb.
const dataFile = `^db\.mmdb\.v\d+$`

// expectLayout checks what the target's directory holds after a successful
// update or Install: the target alone, or the link and at most two data
// files, the link pointing to one of them.
func expectLayout(s writers.Strategy, target string) {
	GinkgoHelper()
	fi, err := os.Lstat(target)
	Expect(err).NotTo(HaveOccurred())
	dir := filepath.Dir(target)
	if !s.SymlinkTarget {
		Expect(fi.Mode().IsRegular()).To(BeTrue(), "%s is a %v, want a regular file", target, fi.Mode())
		Expect(names(dir)).To(ConsistOf("db.mmdb"), "files left behind")
		return
	}
	Expect(fi.Mode()&fs.ModeSymlink).NotTo(BeZero(), "%s is a %v, want a symlink", target, fi.Mode())
	dest, err := os.Readlink(target)
	Expect(err).NotTo(HaveOccurred())
	Expect(dest).To(MatchRegexp(dataFile), "link must point into its own directory")
	data, err := os.Lstat(filepath.Join(dir, dest))
	Expect(err).NotTo(HaveOccurred())
	Expect(data.Mode().IsRegular()).To(BeTrue())
	var n int
	for _, name := range names(dir) {
		if name == "db.mmdb" {
			continue
		}
		Expect(name).To(MatchRegexp(dataFile), "files left behind")
		n++
	}
	Expect(n).To(BeNumerically("<=", 2), "data files: %v", names(dir))
}
