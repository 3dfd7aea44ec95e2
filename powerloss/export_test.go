package powerloss

import "github.com/mapchaos/mapchaos/logwrites"

// ReplayOrder lists, for the replays of log l after entry from, each
// replay's entry, the entry the cursor must be at for it, and the writes it
// leaves out: for specs of the order the cursor serves them in.
func ReplayOrder(l *logwrites.Log, from, extra int, seed int64) (entries, bases []int, lost [][]int) {
	var n int
	for _, p := range replayPoints(l, from, extra, seed, &n) {
		entries, bases, lost = append(entries, p.i), append(bases, p.base), append(lost, p.lost)
	}
	return entries, bases, lost
}

// KernelStateOf is what the kernel check records for state s, left by a
// replay to entry i of log l: for specs of how it reads.
func KernelStateOf(t *Trace, l *logwrites.Log, m Checker, s Recipe, i int) KernelState {
	return kernelState(t, l, m, s, replayPoint{i: i, base: i})
}
