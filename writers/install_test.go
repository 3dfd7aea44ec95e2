package writers_test

import (
	"io/fs"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("Install", func() {
	var f *fixture
	BeforeEach(func() { f = newFixture(5000, 10) })

	It("lays out a regular file", func() {
		Expect(writers.Install(f.target, f.pathA, writers.Properties{})).To(Succeed())
		fi, err := os.Lstat(f.target)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().IsRegular()).To(BeTrue())
		expectContent(f.target, f.a)
		Expect(names(f.db)).To(ConsistOf("db.mmdb"))
	})

	It("lays out a relative symlink to a data file in the same directory", func() {
		Expect(writers.Install(f.target, f.pathA, writers.Properties{SymlinkTarget: true})).To(Succeed())
		Expect(os.Readlink(f.target)).To(Equal("db.mmdb.v0"))
		expectContent(filepath.Join(f.db, "db.mmdb.v0"), f.a)
		Expect(names(f.db)).To(ConsistOf("db.mmdb", "db.mmdb.v0"))
	})

	DescribeTable("fails when the target exists, and leaves it alone",
		func(props writers.Properties, existing func(target string)) {
			existing(f.target)
			before := names(f.db)
			err := writers.Install(f.target, f.pathA, props)
			Expect(err).To(MatchError(fs.ErrExist))
			Expect(err).To(MatchError(ContainSubstring(f.target)))
			Expect(names(f.db)).To(Equal(before))
		},
		Entry("regular file", writers.Properties{}, func(t string) { writeFile(filepath.Dir(t), "db.mmdb", []byte("x")) }),
		Entry("regular file, symlink layout", writers.Properties{SymlinkTarget: true}, func(t string) { writeFile(filepath.Dir(t), "db.mmdb", []byte("x")) }),
		Entry("dangling symlink", writers.Properties{}, func(t string) { Expect(os.Symlink("nowhere", t)).To(Succeed()) }),
	)

	It("fails when the data file exists, and leaves it alone", func() {
		writeFile(f.db, "db.mmdb.v0", []byte("x"))
		Expect(writers.Install(f.target, f.pathA, writers.Properties{SymlinkTarget: true})).To(MatchError(fs.ErrExist))
		Expect(names(f.db)).To(ConsistOf("db.mmdb.v0"))
		expectContent(filepath.Join(f.db, "db.mmdb.v0"), []byte("x"))
	})
})
