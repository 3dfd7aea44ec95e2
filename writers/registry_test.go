package writers_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

type nopWriter struct{}

func (nopWriter) Update(context.Context, writers.Update) error { return nil }

var _ = Describe("Registry", func() {
	It("lists the built-in strategies sorted by name", func() {
		r := writers.Builtin()
		Expect(r.Names()).To(Equal([]string{"cp", "inplace", "remove-create", "rename", "rename-nofsync", "symlink-recreate", "symlink-swap"}))
		var names []string
		for _, s := range r.All() {
			names = append(names, s.Name)
			Expect(s.Summary).NotTo(BeEmpty(), s.Name)
			Expect(s.Writer).NotTo(BeNil(), s.Name)
			Expect(s.Atomic).To(Equal(s.Name == "rename" || s.Name == "rename-nofsync" || s.Name == "symlink-swap"), s.Name)
			Expect(s.SymlinkTarget).To(Equal(s.Name == "symlink-swap" || s.Name == "symlink-recreate"), s.Name)
		}
		Expect(names).To(Equal(r.Names()))
	})

	It("sorts what it is given", func() {
		r := writers.NewRegistry()
		for _, name := range []string{"zz", "aa", "mm"} {
			r.Register(writers.Strategy{Name: name, Writer: nopWriter{}})
		}
		Expect(r.Names()).To(Equal([]string{"aa", "mm", "zz"}))
		Expect(r.All()).To(HaveLen(3))
		Expect(r.All()[0].Name).To(Equal("aa"))
	})

	It("looks a strategy up by name", func() {
		s, err := writers.Builtin().Lookup("rename")
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Name).To(Equal("rename"))
		Expect(s.Writer).To(Equal(writers.Rename{}))
	})

	It("names the known writers when the name is unknown", func() {
		_, err := writers.Builtin().Lookup("foo")
		Expect(err).To(MatchError(`unknown writer "foo": known writers are cp, inplace, remove-create, rename, rename-nofsync, symlink-recreate, symlink-swap`))
		_, err = writers.NewRegistry().Lookup("foo")
		Expect(err).To(MatchError(`unknown writer "foo": no writers are registered`))
	})

	It("panics on a duplicate name, an empty name or a nil Writer", func() {
		r := writers.NewRegistry()
		r.Register(writers.Strategy{Name: "cp", Writer: nopWriter{}})
		Expect(func() { r.Register(writers.Strategy{Name: "cp", Writer: nopWriter{}}) }).To(PanicWith(ContainSubstring(`"cp" twice`)))
		Expect(func() { r.Register(writers.Strategy{Writer: nopWriter{}}) }).To(PanicWith(ContainSubstring("empty name")))
		Expect(func() { r.Register(writers.Strategy{Name: "x"}) }).To(PanicWith(ContainSubstring("nil Writer")))
		Expect(r.Names()).To(Equal([]string{"cp"}))
	})
})
