package skips

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mapchaos/mapchaos/internal/needs"
)

// Skip is one skipped spec.
type Skip struct {
	Suite    string // the suite's description ("Reports Suite")
	Spec     string // the spec's full text
	Location string // file:line of the spec
	Reason   string // the message given to Skip(), or why Ginkgo skipped it
	// Allowed names the allowlist entry that covers Reason, "" when none does.
	Allowed string
}

// Summary is every skipped spec of a run.
type Summary struct {
	Skips       []Skip
	NotSelected int // left out by --focus, --skip or --label-filter: no reason
}

// Rule allows the skips whose reason matches Reason.
type Rule struct {
	Name   string
	Reason *regexp.Regexp
}

// inherited is the reason Ginkgo gives every spec of an Ordered container
// after the one whose BeforeAll called Skip().
var inherited = regexp.MustCompile(`^Spec skipped because Skip\(\) was called in`)

// Allowlist is every reason that may skip a spec under CI: none of them can
// be fixed by installing a package. A reason that starts with
// needs.MissingPrefix never matches.
var Allowlist = []Rule{
	{"a container without pseudo-terminals (cmd/mapchaos progress)", regexp.MustCompile(`^(no pseudo-terminals here|cannot open the pseudo-terminal's slave)`)},
	{"a kernel without PTRACE_SET_SYSCALL_INFO (step)", regexp.MustCompile(`^this kernel has no PTRACE_SET_SYSCALL_INFO`)},
	{"no ptrace in this container or sandbox (harness step mode)", regexp.MustCompile(`^ptrace is not allowed here`)},
	{"a container without /dev/shm (writers)", regexp.MustCompile(`^no /dev/shm`)},
	{"a file system that copy_file_range does not cross (writers)", regexp.MustCompile(`^copy_file_range copied from tmpfs to .* itself`)},
	{"no arm64 kernel fetched yet, by an earlier spec or make test-arm64 (vm)", regexp.MustCompile(`^no arm64 kernel cached in `)},
	{"a mapchaos binary in $PATH (the root package's lookup spec)", regexp.MustCompile(`^mapchaos is in \$PATH`)},
	{"a host that is not Linux (reports)", regexp.MustCompile(`^file system types are known on Linux only`)},
	{"an earlier spec of the Ordered container failed, and that failure fails the run", regexp.MustCompile(`^Spec skipped because an earlier spec in an ordered container failed`)},
}

// Read reads a JSON report written by ginkgo --json-report.
func Read(path string) ([]types.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the Ginkgo JSON report: %w", err)
	}
	var reps []types.Report
	if err := json.Unmarshal(b, &reps); err != nil {
		return nil, fmt.Errorf("%s is not a Ginkgo JSON report (a list of suite reports, as ginkgo --json-report writes): %w", path, err)
	}
	return reps, nil
}

// Summarize lists the skipped specs of reps, and checks each reason
// against rules.
func Summarize(reps []types.Report, rules []Rule) Summary {
	var s Summary
	for _, r := range reps {
		reasons := map[string]string{} // container -> reason of its first Skip()
		for _, sp := range r.SpecReports {
			if sp.State == types.SpecStateSkipped && sp.Failure.Message != "" && !inherited.MatchString(sp.Failure.Message) {
				reasons[container(sp)] = sp.Failure.Message
			}
		}
		for _, sp := range r.SpecReports {
			if sp.State != types.SpecStateSkipped || sp.LeafNodeType != types.NodeTypeIt {
				continue
			}
			reason := sp.Failure.Message
			if reason == "" {
				s.NotSelected++
				continue
			}
			if inherited.MatchString(reason) && reasons[container(sp)] != "" {
				reason = reasons[container(sp)] + " (in its container's BeforeAll)"
			}
			s.Skips = append(s.Skips, Skip{Suite: r.SuiteDescription, Spec: sp.FullText(),
				Location: sp.LeafNodeLocation.String(), Reason: reason, Allowed: allowed(reason, rules)})
		}
	}
	sort.SliceStable(s.Skips, func(i, j int) bool {
		if s.Skips[i].Suite != s.Skips[j].Suite {
			return s.Skips[i].Suite < s.Skips[j].Suite
		}
		return s.Skips[i].Spec < s.Skips[j].Spec
	})
	return s
}

func container(sp types.SpecReport) string { return strings.Join(sp.ContainerHierarchyTexts, "\x00") }

func allowed(reason string, rules []Rule) string {
	if strings.HasPrefix(reason, needs.MissingPrefix) {
		return ""
	}
	for _, r := range rules {
		if r.Reason.MatchString(reason) {
			return r.Name
		}
	}
	return ""
}

// Refused is the number of skips no rule allows.
func (s Summary) Refused() int {
	n := 0
	for _, k := range s.Skips {
		if k.Allowed == "" {
			n++
		}
	}
	return n
}

// Write prints "skipped specs: N", then each skip's suite, spec, location
// and reason, marking those no rule allows.
func (s Summary) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "skipped specs: %d", len(s.Skips))
	if s.NotSelected > 0 {
		fmt.Fprintf(&b, " (and %d not selected by --focus, --skip or --label-filter)", s.NotSelected)
	}
	b.WriteString("\n")
	for _, k := range s.Skips {
		mark := "allowed: " + k.Allowed
		if k.Allowed == "" {
			mark = "NOT ALLOWED under CI"
			if strings.HasPrefix(k.Reason, needs.MissingPrefix) {
				mark += " (make deps installs it)"
			}
		}
		fmt.Fprintf(&b, "- [%s] %s\n    at %s\n    why: %s\n    %s\n", k.Suite, k.Spec, k.Location, oneLine(k.Reason), mark)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a reason on one line of the list.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
