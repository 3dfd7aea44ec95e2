package mapchaos_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mapchaos/mapchaos"
	"github.com/mapchaos/mapchaos/writers"
)

// Race an updater that renames the new version over the target against
// readers that memory-map it. The reader processes come from FindBinary.
func ExampleRace() {
	ctx := context.Background()
	result, err := mapchaos.Race(ctx, writers.Command("mv", "{new}", "{target}"), mapchaos.Reader("mmap"),
		mapchaos.Updates(4))
	if err != nil {
		fmt.Println(err)
		return
	}
	verdict, _ := result.Outcome()
	fmt.Printf("%s x %s: %s\n", result.Writer, result.Reader, verdict)
	// Output: exec x mmap: safe
}

// A failing updater is an error wrapping ErrWriterFailed, never a verdict.
func ExampleRace_failingUpdater() {
	ctx := context.Background()
	_, err := mapchaos.Race(ctx, writers.Command("sh", "-c", "exit 7", "sh", "{new}", "{target}"), mapchaos.Reader("bytes"))
	fmt.Println(errors.Is(err, mapchaos.ErrWriterFailed))
	// Output: true
}
