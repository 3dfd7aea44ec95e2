package lazyre

import (
	"regexp"
	"sync"
)

// RE is a regular expression compiled on first use. Its methods are those
// of regexp.Regexp that mapchaos uses; a bad expression panics on first
// use, as regexp.MustCompile would at start-up (the tests use every one).
type RE struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// New returns expr, to be compiled on first use.
func New(expr string) *RE { return &RE{expr: expr} }

// compiled returns the compiled expression.
func (r *RE) compiled() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

// MatchString is regexp.Regexp.MatchString.
func (r *RE) MatchString(s string) bool { return r.compiled().MatchString(s) }

// FindString is regexp.Regexp.FindString.
func (r *RE) FindString(s string) string { return r.compiled().FindString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (r *RE) FindStringSubmatch(s string) []string { return r.compiled().FindStringSubmatch(s) }

// ReplaceAllString is regexp.Regexp.ReplaceAllString.
func (r *RE) ReplaceAllString(src, repl string) string {
	return r.compiled().ReplaceAllString(src, repl)
}
