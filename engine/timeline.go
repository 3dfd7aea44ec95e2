package engine

import (
	"fmt"
	"strings"
	"sync"
)

// timeline records what the writer did and when (CLOCK_MONOTONIC ns), so
// that an event in a reader can be matched to the writer's step at that
// instant.
type timeline struct {
	mu    sync.Mutex
	start int64 // when the first update began
	marks []mark
}

type mark struct {
	t      int64
	update int    // 1-based
	of     int    // number of updates
	dir    string // "A->B"
	step   int    // 1-based step within the update; 0 = update finished
	desc   string
}

func (tl *timeline) add(m mark) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.start == 0 {
		tl.start = m.t
	}
	tl.marks = append(tl.marks, m)
}

// sinceStart converts an instant to milliseconds since the first update.
func (tl *timeline) sinceStart(t int64) int64 {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.start == 0 || t < tl.start {
		return 0
	}
	return (t - tl.start) / 1e6
}

// at describes the writer's state at instant t.
func (tl *timeline) at(t int64) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.marks) == 0 || t < tl.marks[0].t {
		return "before the first update"
	}
	var m mark
	for _, x := range tl.marks {
		if x.t > t {
			break
		}
		m = x
	}
	if m.step == 0 {
		return fmt.Sprintf("between updates: update %d of %d (%s) had finished %.1f ms before", m.update, m.of, m.dir, float64(t-m.t)/1e6)
	}
	return fmt.Sprintf("update %d of %d (%s), step %d: %s (began %.2f ms before)", m.update, m.of, m.dir, m.step, m.desc, float64(t-m.t)/1e6)
}

// during describes the writer's state over the window [from, to]: a
// reader's last lookup began at from and its death was seen at to, so the
// fault happened in between. It names the state at from and every step that
// began inside the window (the likeliest culprit first).
func (tl *timeline) during(from, to int64) string {
	s := tl.at(from)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var in []string
	for _, m := range tl.marks {
		if m.t > from && m.t <= to {
			if m.step == 0 {
				in = append(in, fmt.Sprintf("update %d finished", m.update))
			} else {
				in = append(in, fmt.Sprintf("update %d step %d: %s", m.update, m.step, m.desc))
			}
		}
	}
	if len(in) == 0 {
		return s
	}
	if len(in) > 3 {
		in = append(in[:3], fmt.Sprintf("%d more", len(in)-3))
	}
	return fmt.Sprintf("%s; before the reader's death was seen %.2f ms later, the writer began: %s",
		s, float64(to-from)/1e6, strings.Join(in, "; "))
}

// log renders the whole timeline, one line per mark.
func (tl *timeline) log() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []string
	for _, m := range tl.marks {
		ms := float64(m.t-tl.start) / 1e6
		if m.step == 0 {
			out = append(out, fmt.Sprintf("%10.3f ms  update %d (%s) done", ms, m.update, m.dir))
		} else {
			out = append(out, fmt.Sprintf("%10.3f ms  update %d (%s) step %d: %s", ms, m.update, m.dir, m.step, m.desc))
		}
	}
	return out
}
