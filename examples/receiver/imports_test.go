package main

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// The receiver needs only the standard library and the signature package:
// none of the sender's dependencies end up in its binary.
func TestReceiverImportsOnlyTheSignaturePackage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") && path != "github.com/scopehook/webhook/signature" {
			t.Errorf("main.go imports %q", path)
		}
	}
}
