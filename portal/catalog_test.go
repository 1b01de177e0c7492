package portal

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// usedKeys returns the message keys the templates and the Go code name,
// and those built at run time from known values.
func usedKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	add := func(re, text string) {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(text, -1) {
			if !strings.HasSuffix(m[1], ".") {
				keys[m[1]] = true
			}
		}
	}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		b, _ := fs.ReadFile(templateFS, n)
		add(`\.TN? "([^"]+)"`, string(b))
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, n := range goFiles {
		if strings.HasSuffix(n, "_test.go") || n == "catalog.go" {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		add(`\.TN?\("([^"]+)"`, string(b))
		add(`heading: "([^"]+)"`, string(b))
		add(`badInput\([a-z.]+, "([^"]+)"`, string(b))
	}
	for _, s := range statuses() {
		keys["status."+s] = true
	}
	for _, s := range []string{"closed", "open", "half-open"} {
		keys["circuit."+s] = true
	}
	for _, g := range graceChoices() {
		keys["grace."+g.Value] = true
	}
	for _, f := range []string{"saved", "deleted", "redelivered", "created", "saved-tested"} {
		keys["flash."+f] = true
	}
	return keys
}

var verbRE = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// Every key the portal uses is in both catalogs, both have the same keys
// (English may add ".one" singulars), the same fmt verbs in each message,
// and no key is left unused.
func TestCatalogsComplete(t *testing.T) {
	en, zh := catalogEN(), catalogZH()
	used := usedKeys(t)
	if len(used) < 150 {
		t.Fatalf("found only %d keys in use: the extraction is broken", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in the English catalog", k)
		}
		if _, ok := zh[k]; !ok {
			t.Errorf("key %q is used but not in the Chinese catalog", k)
		}
	}
	for k, v := range en {
		base := strings.TrimSuffix(k, ".one")
		if !used[base] {
			t.Errorf("English key %q is not used", k)
		}
		if k != base {
			if n := len(verbRE.FindAllString(v, -1)); n != len(verbRE.FindAllString(en[base], -1)) {
				t.Errorf("%q has %d verbs, %q another number", k, n, base)
			}
			continue
		}
		z, ok := zh[k]
		if !ok {
			t.Errorf("key %q has no Chinese message", k)
			continue
		}
		ve, vz := verbRE.FindAllString(v, -1), verbRE.FindAllString(z, -1)
		if !slices.Equal(ve, vz) {
			t.Errorf("%q: verbs %v in English, %v in Chinese", k, ve, vz)
		}
		if strings.TrimSpace(z) == "" {
			t.Errorf("%q: empty Chinese message", k)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("Chinese key %q is not in the English catalog", k)
		}
	}
	var missing []string
	for k := range used {
		if _, ok := en[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("missing: %v", missing)
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                                English,
		"zh-CN,zh;q=0.9":                  SimplifiedChinese,
		"zh":                              SimplifiedChinese,
		"zh-Hans-CN":                      SimplifiedChinese,
		"zh-TW":                           SimplifiedChinese,
		"en-US,en;q=0.9,zh-CN;q=0.8":      English,
		"fr-FR,fr;q=0.9,zh-CN;q=0.8":      SimplifiedChinese,
		"fr-FR,de;q=0.8":                  English,
		"zh-CN;q=0,en;q=0.5":              English,
		"en;q=0.2, zh_CN;q=0.7":           SimplifiedChinese,
		"zh-CN;q=bad,en":                  English,
		strings.Repeat("xx,", 100) + "zh": English,
	} {
		if got := negotiate(header); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", header, got, want)
		}
	}
}
