package results

import "github.com/mapchaos/mapchaos/verdicts"

// PowerLossTrace is what power-loss mode saw of one combination: for each
// update of the writer (traced once, as in step mode), the states a power
// loss may leave on disk under the persistence model, each laid out in a
// fresh directory and opened by a restarted reader of this strategy.
type PowerLossTrace struct {
	// Model is the persistence model: "posix" or "ext4-ordered".
	Model   string            `json:"model"`
	Updates []PowerLossUpdate `json:"updates"`
	// Down counts the states, over every update, in which the restarted
	// reader could not open a valid database or serve a right answer: the
	// service does not come back. Each makes the combination unsafe in
	// this mode, though the reader's word for it stays "degraded".
	Down int `json:"down"`
	// Missed, with --kernel-check, names the first replay of the kernel's
	// log that left a state the model does not allow (nil: none did).
	Missed *string `json:"missed,omitempty"`
}

// PowerLossUpdate is one traced update and its crash states.
type PowerLossUpdate struct {
	// Update is its direction ("A->B"); Command the writer's command line.
	Update  string `json:"update"`
	Command string `json:"command"`
	// Calls counts the traced calls on the target or its directory,
	// Barriers the fsync-family calls among them.
	Calls    int `json:"calls"`
	Barriers int `json:"barriers"`
	// Exist is how many states the model allows, over every crash point
	// (a decimal number, or "about 10^N" when it has more than 15 digits;
	// an upper bound: a state reached from two points counts twice).
	// Explored is how many distinct states (distinct for a reader: the
	// target's bytes and the names there) were built and opened; Sampled
	// says the bound of states per update was reached, so there may be
	// more (the later ones were drawn from the seed).
	Exist    string `json:"exist"`
	Explored int    `json:"explored"`
	Sampled  bool   `json:"sampled,omitempty"`
	// Exit is how the traced writer ended ("exit 0").
	Exit     string       `json:"exit"`
	Warnings []string     `json:"warnings,omitempty"`
	States   []CrashState `json:"states"`
	// Kernel is the kernel check of this update (--kernel-check), or nil.
	Kernel *KernelCheck `json:"kernel,omitempty"`
}

// CrashState is one state a power loss may leave, as a restarted reader
// finds it.
type CrashState struct {
	// ID numbers the states of the update from 1.
	ID int `json:"id"`
	// Kind is "prefix" (every call up to After persisted: what a kill
	// leaves) or "crash" (something written before the crash was lost).
	Kind string `json:"kind"`
	// After is the call the power was lost after (#N, 0: before the
	// update), Call that call with its result.
	After int    `json:"after"`
	Call  string `json:"call"`
	// Lost says what did not reach the disk: "nothing", or entries as after
	// an earlier call and pages that read as zeros or older data.
	Lost string `json:"lost"`
	// Name is what the target is: missing, empty, zero-filled, partial,
	// torn, whole A or whole B; OnDisk says it in full ("torn: 10066229
	// bytes; 1229 pages of B, 1229 of neither").
	Name   string `json:"name"`
	OnDisk string `json:"on_disk"`
	// Leftovers are names there neither before nor after the update
	// (a temporary file): named, not unsafe.
	Leftovers []string `json:"leftovers,omitempty"`
	// Verdict is the restarted reader's outcome in this state; Detail
	// says what went wrong; Down: it could not serve (see PowerLossTrace.Down).
	Verdict verdicts.Verdict `json:"verdict"`
	Detail  string           `json:"detail,omitempty"`
	Down    bool             `json:"down,omitempty"`
}

// KernelCheck is what the same update did on a real kernel (--kernel-check):
// run on ext4 or xfs over dm-log-writes, its log replayed to the update's
// start, to every flush and FUA entry, to its end and to entries drawn
// between them, each replay mounted (the journal or log recovers as after a
// reboot) and its target recorded, checked against the model (ext4-ordered
// for ext4, posix for xfs) and opened by the restarted reader.
type KernelCheck struct {
	// Device says what ran: "ext4 over dm-log-writes, Linux 6.1.0-...".
	Device string `json:"device"`
	// Model is the model the states were checked against: "ext4-ordered"
	// or "posix" (absent in reports from before xfs: ext4-ordered).
	Model string `json:"model,omitempty"`
	// Entries counts the log's entries from the update's start to its end,
	// Barriers the flush and FUA entries among them, Replays the entries
	// replayed to, Mounted the replays mounted (one with no write since
	// the last is the same device: not mounted again).
	Entries  int `json:"entries"`
	Barriers int `json:"barriers"`
	Replays  int `json:"replays"`
	Mounted  int `json:"mounted"`
	// States are the distinct states the replays left (distinct for a
	// reader, as the model's states are).
	States []KernelState `json:"states"`
	// Missed counts the states the model does not allow: each is a bug in
	// the model, and makes the combination's expectation unmet.
	Missed int `json:"missed"`
	// ModelStates is how many of the model's states were explored for this
	// update, ModelProduced how many of them some replay left;
	// NamesNotProduced the names (torn, zero-filled ...) of model states no
	// replay left.
	ModelStates      int      `json:"model_states"`
	ModelProduced    int      `json:"model_produced"`
	NamesNotProduced []string `json:"names_not_produced,omitempty"`
	DurationMS       int64    `json:"duration_ms"`
}

// KernelState is one state a replay of the kernel's log left.
type KernelState struct {
	ID int `json:"id"`
	// Entry is the first log entry a replay to which left this state, What
	// the entry ("flush", "fua+metadata write", "write", "mark NAME"),
	// Mark the last mark at or before it, Replays how many replays left it.
	Entry   int    `json:"entry"`
	What    string `json:"what"`
	Mark    string `json:"mark,omitempty"`
	Replays int    `json:"replays"`
	// LostWrites lists the write entries before Entry that the replay
	// left out (a seeded subset of those since the last flush: they never
	// left the disk's volatile cache); empty for a replay of every entry.
	LostWrites []int `json:"lost_writes,omitempty"`
	// InModel: the model allows it, as a crash after call After with the
	// names as after call Meta. A state not in the model is a bug in the model.
	InModel bool `json:"in_model"`
	After   int  `json:"after,omitempty"`
	Meta    int  `json:"meta,omitempty"`
	// Pages says, for a state not in the model, where the target's pages
	// come from, run by run ("pages 0-2456: the old version; page 2457: neither").
	Pages string `json:"pages,omitempty"`
	// Name, OnDisk, Lost, Leftovers, Verdict, Detail, Down: as in CrashState.
	Name      string           `json:"name"`
	OnDisk    string           `json:"on_disk"`
	Lost      string           `json:"lost,omitempty"`
	Leftovers []string         `json:"leftovers,omitempty"`
	Verdict   verdicts.Verdict `json:"verdict"`
	Detail    string           `json:"detail,omitempty"`
	Down      bool             `json:"down,omitempty"`
}
