package fx

import (
	"fmt"
	"strings"
	"testing"
)

func TestATableIsReadExactly(t *testing.T) {
	usd := code(t, "USD")
	body := `[{"date":"2026-11-27","base":"USD","quote":"EUR","rate":0.9234},
		{"date":"2026-11-27","base":"USD","quote":"JPY","rate":1.5645e2, "extra": {"a": [1, 2]}},
		{"date":"2026-11-26","base":"USD","quote":"XYZ","rate":3},
		{"date":"2026-11-27","base":"USD","quote":"eur","rate":3}] `
	table, reason := parseTable(usd, []byte(body))
	if reason != "" {
		t.Fatal(reason)
	}
	eur, ok := table.lookup(code(t, "EUR"))
	if !ok || eur.text != "0.9234" || eur.date != "2026-11-27" {
		t.Errorf("EUR: %+v", eur)
	}
	if jpy, _ := table.lookup(code(t, "JPY")); jpy.text != "156.45" {
		t.Errorf("JPY: %+v", jpy)
	}
	if _, ok := table.lookup(code(t, "GBP")); ok {
		t.Error("GBP was not quoted")
	}
}

// Hostile provider answers: every one is malformed, never a price.
func TestAnythingButATableIsMalformed(t *testing.T) {
	usd := code(t, "USD")
	row := func(date, base, rate string) string {
		return fmt.Sprintf(`[{"date":"%s","base":"%s","quote":"EUR","rate":%s}]`, date, base, rate)
	}
	good := row("2026-11-27", "USD", "0.9")
	for _, body := range []string{
		"", "[]", "{}", "null", "[null]", "[[]]", `"[]"`, "[1]",
		`[{"date":"2026-11-27","base":"USD","quote":"EUR"}]`,                                // no rate
		`[{"date":"2026-11-27","base":"USD","rate":0.9}]`,                                   // no quote
		`[{"date":"2026-11-27","base":"USD","quote":null,"rate":0.9}]`,                      // null quote
		`[{"date":"2026-11-27","base":"USD","quote":7,"rate":0.9}]`,                         // quote not a string
		`[{"DATE":"2026-11-27","base":"USD","quote":"EUR","rate":0.9}]`,                     // names match exactly
		`[{"date":"2026-11-27","date":"2026-11-27","base":"USD","quote":"EUR","rate":0.9}]`, // twice
		good[:30], good[:len(good)-1], good + "x", good + "[]",
		row("2026-11-27", "GBP", "0.9"), row("2026-11-27", "usd", "0.9"),
		row("2026-13-27", "USD", "0.9"), row("2026-02-30", "USD", "0.9"), row("27/11/2026", "USD", "0.9"),
		row("2026-11-27T00:00:00Z", "USD", "0.9"), row("2026-1-27", "USD", "0.9"), row("", "USD", "0.9"),
		row("2026-11-27", "USD", "0"), row("2026-11-27", "USD", "-0.9"), row("2026-11-27", "USD", "-0"),
		row("2026-11-27", "USD", `"0.9"`), row("2026-11-27", "USD", "null"), row("2026-11-27", "USD", "NaN"),
		row("2026-11-27", "USD", "Infinity"), row("2026-11-27", "USD", "1e400"), row("2026-11-27", "USD", "1e-41"),
		row("2026-11-27", "USD", "0.1234567890123456789"), row("2026-11-27", "USD", "true"),
		row("2026-11-27", "USD", "[0.9]"), row("2026-11-27", "USD", "{}"),
		row("2026-11-27", "USD", "9"+strings.Repeat("9", 30)),
		"[" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "]",
	} {
		if table, reason := parseTable(usd, []byte(body)); reason == "" || table != nil {
			t.Errorf("accepted %.80q", body)
		}
	}
	if _, reason := parseTable(usd, []byte(good)); reason != "" {
		t.Errorf("rejected the good row: %s", reason)
	}
}
