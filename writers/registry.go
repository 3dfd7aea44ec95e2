package writers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Registry maps strategy names to strategies. Fill it during setup; once
// filled it may be read from many goroutines.
type Registry struct {
	byName map[string]Strategy
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]Strategy)}
}

// Register adds s. It panics if s has no name or no Writer, or if a
// strategy of that name is registered already: all are programming errors.
func (r *Registry) Register(s Strategy) {
	switch {
	case s.Name == "":
		panic("writers: Register of a strategy with an empty name")
	case s.Writer == nil:
		panic(fmt.Sprintf("writers: Register of %q with a nil Writer", s.Name))
	}
	if _, dup := r.byName[s.Name]; dup {
		panic(fmt.Sprintf("writers: Register of %q twice", s.Name))
	}
	r.byName[s.Name] = s
}

// Lookup returns the strategy called name, or an error that lists the known
// names.
func (r *Registry) Lookup(name string) (Strategy, error) {
	if s, ok := r.byName[name]; ok {
		return s, nil
	}
	if len(r.byName) == 0 {
		return Strategy{}, fmt.Errorf("unknown writer %q: no writers are registered", name)
	}
	return Strategy{}, fmt.Errorf("unknown writer %q: known writers are %s", name, strings.Join(r.Names(), ", "))
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.byName))
}

// All returns the registered strategies, sorted by name.
func (r *Registry) All() []Strategy {
	all := make([]Strategy, 0, len(r.byName))
	for _, name := range r.Names() {
		all = append(all, r.byName[name])
	}
	return all
}

// Builtin returns a new registry holding every built-in strategy. The names
// are part of the mapchaos contract (docs/contracts.md). `exec`, the user's own
// updater (see Command), is not registered: it needs a command, so `check`
// builds it from --writer-cmd.
func Builtin() *Registry {
	r := NewRegistry()
	r.Register(Strategy{
		Name:    "cp",
		Summary: "truncate the target and rewrite it in place, as cp(1) does",
		Writer:  Cp{},
	})
	r.Register(Strategy{
		Name:       "rename",
		Summary:    "write a temp file in the same directory, fsync, rename it over the target, fsync the directory (geoipupdate)",
		Properties: Properties{Atomic: true, KeepsFiles: true},
		Writer:     Rename{},
	})
	r.Register(Strategy{
		Name:       "rename-nofsync",
		Summary:    "write a temp file, rename it over the target, no fsync at all (curl -o tmp && mv tmp target)",
		Properties: Properties{Atomic: true, KeepsFiles: true},
		Writer:     RenameNoFsync{},
	})
	r.Register(Strategy{
		Name:       "symlink-swap",
		Summary:    "target is a symlink; write the new file under a new name, make a temp symlink, rename it over the target link (ln -sfn)",
		Properties: Properties{Atomic: true, SymlinkTarget: true, KeepsFiles: true},
		Writer:     SymlinkSwap{},
	})
	r.Register(Strategy{
		Name:       "symlink-recreate",
		Summary:    "target is a symlink; remove it, then create it again (rm -f t && ln -s)",
		Properties: Properties{SymlinkTarget: true, KeepsFiles: true},
		Writer:     SymlinkRecreate{},
	})
	r.Register(Strategy{
		Name:    "inplace",
		Summary: "overwrite the bytes without truncating first, then set the length (rsync --inplace, dd conv=notrunc)",
		Writer:  Inplace{},
	})
	r.Register(Strategy{
		Name:       "remove-create",
		Summary:    "unlink the target, then create and write a new file (install(1), cp --remove-destination)",
		Properties: Properties{KeepsFiles: true},
		Writer:     RemoveCreate{},
	})
	return r
}
