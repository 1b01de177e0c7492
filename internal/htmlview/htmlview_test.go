package htmlview

import (
	"testing"
	"time"
)

func TestHelpers(t *testing.T) {
	if got := Clip("事件名称很长", 3); got != "事件名…" {
		t.Errorf("Clip = %q", got)
	}
	if got := Percent(0.125); got != "12.5 %" {
		t.Errorf("Percent = %q", got)
	}
	at := time.Date(2026, 12, 1, 15, 4, 5, 123e6, time.FixedZone("CST", 8*3600))
	if s := StampOf(at); s.String() != "2026-12-01 07:04:05.123" || s.IsZero() || !StampOf(time.Time{}).IsZero() || StampOf(time.Time{}).String() != "—" {
		t.Errorf("StampOf = %+v", s)
	}
	if got := Time(at); got != "2026-12-01 07:04:05" {
		t.Errorf("Time = %q", got)
	}
	if got := PrettyJSON([]byte(`{"a":1}`)); got != "{\n  \"a\": 1\n}" {
		t.Errorf("PrettyJSON = %q", got)
	}
	if got := PrettyJSON([]byte(`not json`)); got != "not json" {
		t.Errorf("PrettyJSON of text = %q", got)
	}
	if h := SortedHeaders(map[string]string{"b": "2", "A": "1"}); len(h) != 2 || h[0].Key != "A" {
		t.Errorf("SortedHeaders = %v", h)
	}
	if ValueText("x") != "x" || ValueText(map[string]any{"k": 1}) != `{"k":1}` {
		t.Error("ValueText")
	}
	if RateClass(0) != "good" || RateClass(0.1) != "warn" || RateClass(0.5) != "bad" {
		t.Error("RateClass")
	}
	if a, b := NewRef(), NewRef(); len(a) != 12 || a == b {
		t.Errorf("NewRef = %q, %q", a, b)
	}
}
