package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's configuration table and config.go (with tls.go, the TLS
// settings) declare the same variables.
func TestReadmeListsEverySetting(t *testing.T) {
	var src []byte
	for _, f := range []string{"config.go", "tls.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"((?:OVERKILL_[A-Z0-9_]+)|DATABASE_URL)"`)
	declared := map[string]bool{}
	for _, m := range names.FindAllStringSubmatch(string(src), -1) {
		declared[m[1]] = true
	}
	rows := regexp.MustCompile("(?m)^\\| `((?:OVERKILL_[A-Z0-9_]+)|DATABASE_URL)` \\|")
	documented := map[string]bool{}
	for _, m := range rows.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	for n := range declared {
		if !documented[n] {
			t.Errorf("%s is read by config.go but has no row in README.md", n)
		}
	}
	for n := range documented {
		if !declared[n] {
			t.Errorf("README.md documents %s, which config.go does not read", n)
		}
	}
	if len(declared) < 10 || strings.Count(string(readme), "| `OVERKILL_") != len(declared)-1 {
		t.Errorf("declared %d settings; README rows: %d", len(declared), strings.Count(string(readme), "| `OVERKILL_"))
	}
}

// The README's layout table has a row for every package under internal/.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir("internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && !strings.Contains(string(readme), "| `internal/"+d.Name()+"` |") {
			t.Errorf("internal/%s has no row in README.md's layout table", d.Name())
		}
	}
}
