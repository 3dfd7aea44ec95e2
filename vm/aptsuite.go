package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hostTarget is one package index the host's apt sources name.
type hostTarget struct{ uri, release, component string }

// hostTargets lists the package indexes of the host's sources (after an
// update with them), as apt-get indextargets gives them.
func (a apt) hostTargets(ctx context.Context) ([]hostTarget, error) {
	out, err := a.run(ctx, a.dir, "apt-get", "indextargets", "--format", "$(REPO_URI)\t$(RELEASE)\t$(COMPONENT)", "Created-By: Packages")
	if err != nil {
		return nil, err
	}
	var ts []hostTarget
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(strings.TrimSpace(line), "\t"); len(f) == 3 {
			ts = append(ts, hostTarget{uri: f[0], release: f[1], component: f[2]})
		}
	}
	return ts, nil
}

// suiteSource returns the deb822 stanza that adds RELEASE-suffix on the
// mirror of the host's Debian release (the release without a "-" that has
// siblings such as RELEASE-updates), or "" when the host already has it.
func suiteSource(ts []hostTarget, suffix string) (string, error) {
	base := map[hostTarget]bool{}
	var found []hostTarget
	for _, t := range ts {
		if strings.HasSuffix(t.release, "-"+suffix) {
			return "", nil
		}
		if !strings.Contains(t.release, "-") && t.component == "main" {
			found = append(found, t)
		}
	}
	for _, t := range found {
		for _, s := range ts {
			if strings.HasPrefix(s.release, t.release+"-") {
				base[t] = true
			}
		}
	}
	var pick []hostTarget
	for _, t := range found {
		if base[t] || len(found) == 1 {
			pick = append(pick, t)
		}
	}
	if len(pick) == 0 {
		return "", fmt.Errorf("the host's apt sources name no Debian release with a main component (found %d package indexes): "+
			"cannot add its -%s suite for the kernel", len(ts), suffix)
	}
	t := pick[0]
	return fmt.Sprintf("Types: deb\nURIs: %s\nSuites: %s-%s\nComponents: main\n", t.uri, t.release, suffix), nil
}

// addSuite adds the suite RELEASE-suffix of the host's Debian mirror to a
// private copy of the host's sources (links to its files, which stay as
// they are) and updates the lists again. The host's apt configuration is
// not changed; the suite is used by this apt only.
func (a apt) addSuite(ctx context.Context, suffix string) (apt, error) {
	ts, err := a.hostTargets(ctx)
	if err != nil {
		return a, err
	}
	stanza, err := suiteSource(ts, suffix)
	if err != nil || stanza == "" {
		return a, err
	}
	hostParts, err := a.run(ctx, a.dir, "apt-config", "shell", "P", "Dir::Etc::SourceParts/d")
	if err != nil {
		return a, err
	}
	hostDir := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(hostParts), "P=")), "'")
	parts := filepath.Join(a.dir, "sources.list.d")
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return a, fmt.Errorf("apt: %w", err)
	}
	if hostDir != "" {
		ents, _ := os.ReadDir(hostDir)
		for _, e := range ents {
			if n := e.Name(); strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources") {
				if err := os.Symlink(filepath.Join(hostDir, n), filepath.Join(parts, n)); err != nil && !os.IsExist(err) {
					return a, fmt.Errorf("apt: %w", err)
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(parts, "zz-mapchaos-"+suffix+".sources"), []byte(stanza), 0o644); err != nil {
		return a, fmt.Errorf("apt: %w", err)
	}
	a.parts = parts
	if err := a.update(ctx); err != nil {
		return a, fmt.Errorf("the %s suite of the host's Debian mirror (%s): %w", suffix, strings.TrimSpace(strings.ReplaceAll(stanza, "\n", "; ")), err)
	}
	return a, nil
}
