package currency

import (
	"os"
	"regexp"
	"sort"
	"testing"
)

func TestListIsSortedUniqueAndMatchesTheRustService(t *testing.T) {
	if !sort.SliceIsSorted(table, func(i, j int) bool { return table[i].code < table[j].code }) {
		t.Fatal("currencies.txt is not sorted")
	}
	for i := 1; i < len(table); i++ {
		if table[i].code == table[i-1].code {
			t.Fatalf("duplicate %s", table[i].code)
		}
	}
	// The Rust service's money.rs, when this runs inside the repository.
	src, err := os.ReadFile("../../../../crates/overkill/src/money.rs")
	if err != nil {
		t.Skip("money.rs not found:", err)
	}
	rust := regexp.MustCompile(`\("([A-Z]{3})", (\d)\)`).FindAllStringSubmatch(string(src), -1)
	if len(rust) != len(table) {
		t.Fatalf("money.rs lists %d currencies, currencies.txt %d", len(rust), len(table))
	}
	for i, m := range rust {
		if table[i].code != m[1] || int(table[i].exponent) != int(m[2][0]-'0') {
			t.Errorf("entry %d: money.rs %s %s, currencies.txt %s %d", i, m[1], m[2], table[i].code, table[i].exponent)
		}
	}
}

func TestExponentsFollowISO4217(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "CLF": 4, "UYW": 4, "XAU": 0, "XOF": 0} {
		c, ok := Parse(code)
		if !ok || c.Exponent() != want || c.Code() != code {
			t.Errorf("%s: parsed %v, exponent %d, code %q; want exponent %d", code, ok, c.Exponent(), c.Code(), want)
		}
	}
}

func TestAcceptsListedCodesOnly(t *testing.T) {
	for _, bad := range []string{"eur", "ABC", "EURO", "EU", "", "XXX", "XTS", "E\x00R", "€UR"} {
		if Valid(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if Count != 176 || len(All()) != Count || All()[0].Code() != "AED" {
		t.Errorf("Count %d", Count)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	code := string([]byte("EUR"))
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(code) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
