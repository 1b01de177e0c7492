package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstartRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), "", &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"created [template_update template_create]",
		"2 deliveries, 0 failed",
		`POST /service1  Authorization="Bearer service1-token"`,
		`POST /service2  Authorization="" X-Team="payments"`,
		`"info":{"template_id":"template1"}`,
		"Bearer [REDACTED]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "service1-token") != 1 {
		t.Errorf("the token appears outside the receiver's request:\n%s", s)
	}
}
