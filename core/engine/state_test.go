package engine

import "testing"

func TestStateWords(t *testing.T) {
	seen := map[string]State{}
	for s := StatePaused; s <= maxState; s++ {
		w := s.String()
		if w == "unknown" {
			t.Fatalf("state %d has no word", int(s))
		}
		if other, dup := seen[w]; dup {
			t.Fatalf("states %v and %d share the word %q", other, int(s), w)
		}
		seen[w] = s
		if p, ok := ParseState(w); !ok || p != s {
			t.Fatalf("ParseState(%q) = %v, %v", w, p, ok)
		}
	}
	if StateWaiting.String() != "waiting for jobs" {
		t.Fatalf("waiting = %q", StateWaiting.String())
	}
	if _, ok := ParseState("napping"); ok {
		t.Fatal(`"napping" parsed as a state`)
	}
}
