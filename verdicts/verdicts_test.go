package verdicts_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mapchaos/mapchaos/verdicts"
)

func TestOrderAndWords(t *testing.T) {
	words := []string{"safe", "degraded", "recovered", "stuck", "corrupt", "crash"}
	for i, v := range verdicts.All {
		if v.String() != words[i] {
			t.Errorf("verdict %d is %q, want %q", i, v, words[i])
		}
		if i > 0 && !(verdicts.All[i-1] < v) {
			t.Errorf("%s should be less severe than %s", verdicts.All[i-1], v)
		}
		p, err := verdicts.Parse(" " + words[i] + " ")
		if err != nil || p != v {
			t.Errorf("Parse(%q) = %v, %v", words[i], p, err)
		}
	}
	if _, err := verdicts.Parse("boom"); err == nil {
		t.Error("Parse(boom) succeeded")
	}
}

func TestWorst(t *testing.T) {
	if w := verdicts.Worst(); w != verdicts.Safe {
		t.Errorf("Worst() = %s", w)
	}
	if w := verdicts.Worst(verdicts.Degraded, verdicts.Crash, verdicts.Corrupt); w != verdicts.Crash {
		t.Errorf("Worst = %s", w)
	}
}

func TestCountsJSON(t *testing.T) {
	var c verdicts.Counts
	c.Add(verdicts.Crash)
	c.Add(verdicts.Safe)
	c.Add(verdicts.Safe)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"safe":2,"degraded":0,"recovered":0,"stuck":0,"corrupt":0,"crash":1}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back verdicts.Counts
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if c.Worst() != verdicts.Crash || c.Total() != 3 {
		t.Errorf("Worst %s Total %d", c.Worst(), c.Total())
	}
	if err := json.Unmarshal([]byte(`{"kaboom":1}`), &back); err == nil {
		t.Error("unknown word accepted")
	}
}

func ExampleWorst() {
	fmt.Println(verdicts.Worst(verdicts.Safe, verdicts.Recovered, verdicts.Degraded))
	// Output: recovered
}
