package vm

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"
)

// ModuleDepends returns the modules a kernel module needs, from the
// "depends=" entry of its .modinfo section.
func ModuleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: .modinfo: %w", path, err)
	}
	for _, kv := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, "depends="); ok {
			var deps []string
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// LoadOrder returns roots and everything they depend on, each after its
// dependencies. mods maps module names to .ko paths.
func LoadOrder(mods map[string]string, roots []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, from []string) error
	visit = func(name string, from []string) error {
		switch state[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(from, name), " -> "))
		}
		path, ok := mods[name]
		if !ok {
			if len(from) == 0 {
				return fmt.Errorf("module %s is not in the kernel package", name)
			}
			return fmt.Errorf("module %s (needed by %s) is not in the kernel package", name, from[len(from)-1])
		}
		state[name] = 1
		deps, err := ModuleDepends(path)
		if err != nil {
			return err
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(from, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
