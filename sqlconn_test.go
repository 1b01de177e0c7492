package webhook

import (
	"reflect"
	"testing"
)

func TestAnyOfKeysKeepsDistinctKeysApart(t *testing.T) {
	t.Parallel()
	q, args := anyOfKeys([]string{"a", "b"}, [][]any{{"biz", "1x"}, {"biz1", "x"}, {"biz", "1x"}})
	if q != "(a = ? AND b = ?) OR (a = ? AND b = ?)" || !reflect.DeepEqual(args, []any{"biz", "1x", "biz1", "x"}) {
		t.Errorf("anyOfKeys = %q %v", q, args)
	}
}

func TestEqualitiesKeepTheirOrder(t *testing.T) {
	t.Parallel()
	for range 20 { // map iteration would vary; the filter order must not
		conds, args := equalities(eq{"x", "1"}, eq{"y", ""}, eq{"z", "3"}, eq{"w", "4"})
		if !reflect.DeepEqual(conds, []string{"x = ?", "z = ?", "w = ?"}) || !reflect.DeepEqual(args, []any{"1", "3", "4"}) {
			t.Fatalf("equalities = %v %v", conds, args)
		}
	}
}
