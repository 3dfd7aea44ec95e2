package engine

import (
	"fmt"
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
