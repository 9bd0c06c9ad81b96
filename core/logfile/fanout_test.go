package logfile

import (
	"bytes"
	"testing"

	"usepod.ai/agent/internal/testrig/writers"
)

func TestFanOutWritesToEveryWriterAndReportsEachFailureOnce(t *testing.T) {
	var a, c bytes.Buffer
	b := &writers.Broken{}
	var reports []string
	w := NewFanOut(func(name string, err error) { reports = append(reports, name+": "+err.Error()) },
		Named{"a", &a}, Named{"b", b}, Named{"c", &c})
	for range 3 {
		n, err := w.Write([]byte("x\n"))
		if n != 2 || err != nil {
			t.Fatalf("Write = %d, %v; want 2, nil while one writer still works", n, err)
		}
	}
	if a.String() != "x\nx\nx\n" || c.String() != "x\nx\nx\n" {
		t.Errorf("a = %q, c = %q; want three lines each", a.String(), c.String())
	}
	if b.Writes() != 3 {
		t.Errorf("the broken writer was tried %d times, want 3 (it may come back)", b.Writes())
	}
	if len(reports) != 1 || reports[0] != "b: the handle is invalid" {
		t.Errorf("reports = %q, want one for b", reports)
	}
}

func TestFanOutFailsWhenEveryWriterFails(t *testing.T) {
	w := NewFanOut(nil, Named{"a", &writers.Broken{}}, Named{"b", &writers.Broken{}})
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write succeeded with no working writer")
	}
}
