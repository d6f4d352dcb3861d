package products

import (
	"testing"
)

func members(t *testing.T, body string) *Body {
	t.Helper()
	b, p := DecodeBody([]byte(body))
	if p != nil {
		t.Fatalf("DecodeBody(%s): %v", body, p)
	}
	return b
}

func TestCreateReportsEveryInvalidField(t *testing.T) {
	_, p := ParseCreate(members(t, `{"sku":"bad sku","name":"  ","price_minor":-0.5,"currency":"eur","stock":1.5,"description":7}`))
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	want := "sku name description price_minor currency stock"
	if got := join(fields); got != want || p.Status != 422 {
		t.Fatalf("fields = %q, status %d", got, p.Status)
	}
}

func TestUnknownFieldIsFirstInKeyOrder(t *testing.T) {
	_, p := ParseCreate(members(t, `{"zeta":1,"id":2,"sku":"A"}`))
	if p == nil || p.Slug != "unknown-field" || p.Field != "id" {
		t.Fatalf("problem = %+v", p)
	}
}

func TestIntegers(t *testing.T) {
	// Whole numbers in any JSON spelling, as JSON Schema's "integer".
	for raw, want := range map[string]int64{"0": 0, "7": 7, " 42 ": 42, "1000000000": maxStock,
		"-0": 0, "1.0": 1, "1e2": 100, "1E2": 100, "2.50e1": 25, "1e9": maxStock, "-0.0": 0} {
		if v, ok := checkInt([]byte(raw), maxStock); !ok || v != want {
			t.Errorf("%q: %d %v", raw, v, ok)
		}
	}
	for _, raw := range []string{"", "-1", "-1.0", "1.5", "25e-1", "1e300", "1000000001", "1000000000.5", "9223372036854775807",
		"9223372036854775808", "99999999999999999999", `"1"`, "true", "null"} {
		if v, ok := checkInt([]byte(raw), maxStock); ok {
			t.Errorf("%q accepted as %d", raw, v)
		}
	}
	if v, ok := checkInt([]byte("1000000000000"), maxPriceMinor); !ok || v != maxPriceMinor {
		t.Errorf("max price: %d %v", v, ok)
	}
}

// encoding/json would fill SKU from "SKU" or "ſku" (case folding): only
// exact names are known; an escaped name is its unescaped text.
func TestMemberNamesAreExact(t *testing.T) {
	for body, field := range map[string]string{
		`{"SKU":"A"}`: "SKU", `{"sku":"A","Name":"n"}`: "Name", `{"ſku":"A"}`: "ſku",
		`{"sku":"A","b":{"c":[1,{"d":"}"}]},"a":"x,\"}"}`: "a", `{"\u0061":1}`: "a", `{"id":1}`: "id",
	} {
		if _, p := ParseCreate(members(t, body)); p == nil || p.Slug != "unknown-field" || p.Field != field {
			t.Errorf("%s: %+v", body, p)
		}
	}
	np, p := ParseCreate(members(t, ` { "\u0073ku" : "A" , "name":"n","price_minor":1,"currency":"EUR","stock":1 } `))
	if p != nil || np.SKU != "A" {
		t.Fatalf("%+v %v", np, p)
	}
	if _, p := ParsePatch(members(t, `{"Name":"x"}`)); p == nil || p.Field != "Name" {
		t.Fatalf("%+v", p)
	}
	_, p = ParsePatch(members(t, `{"updated_at":null,"id":1,"name":"ok"}`))
	if p == nil || p.Status != 422 || join([]string{p.Errors[0].Field, p.Errors[1].Field}) != "id updated_at" {
		t.Fatalf("%+v", p)
	}
}

func TestDuplicateKeysLastWins(t *testing.T) {
	np, p := ParseCreate(members(t, `{"sku":"A","sku":"B","name":"n","price_minor":1,"currency":"EUR","stock":1,"stock":2}`))
	if p != nil || np.SKU != "B" || np.Stock != 2 {
		t.Fatalf("%+v %v", np, p)
	}
}

func TestStringsWithEscapes(t *testing.T) {
	np, p := ParseCreate(members(t, `{"sku":"A","name":"a\"b\u00e9\ud83d\ude00","description":"x\ny","price_minor":1,"currency":"EUR","stock":1}`))
	if p != nil || np.Name != "a\"bé😀" || *np.Description != "x\ny" {
		t.Fatalf("%+v %v", np, p)
	}
}

func TestMalformedBodies(t *testing.T) {
	for _, b := range []string{``, ` `, `null`, `true`, `1`, `[1,`, `{"a":1,}`, `{"a":01}`, "{\"a\":\"\x01\"}", `[]`, `"x"`, `{"a":1}x`, `{"a":1}{}`, `{"a"}`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud800x"}`} {
		if _, p := DecodeBody([]byte(b)); p == nil || p.Slug != "malformed-json" {
			t.Errorf("%q: %v", b, p)
		}
	}
}

func TestSurrogatePairsAreFine(t *testing.T) {
	for _, b := range []string{`{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`, `{"a":"\u00e9\n"}`} {
		if _, p := DecodeBody([]byte(b)); p != nil {
			t.Errorf("%s: %v", b, p)
		}
	}
}

func TestETagMatching(t *testing.T) {
	if !etagMatches(`"1-0", "1-1"`, `"1-1"`, false) || etagMatches(`W/"1-1"`, `"1-1"`, false) ||
		!etagMatches(`W/"1-1"`, `"1-1"`, true) || !etagMatches(`*`, `"1-1"`, false) {
		t.Fatal("etag comparison")
	}
}

func TestCursorIsBoundToSortAndFilters(t *testing.T) {
	min := int64(5)
	f := Filter{Q: "mug", MinPrice: &min}
	c := encodeCursor(SortName, f, position{Str: "Mug", ID: 7})
	w, err := decodeCursor(c)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := w.position(SortName, f); err != nil || pos.Str != "Mug" || pos.ID != 7 {
		t.Fatalf("pos = %+v, %v", pos, err)
	}
	if _, err := w.position(SortPrice, f); err == nil {
		t.Fatal("accepted for another sort")
	}
	if _, err := w.position(SortName, Filter{Q: "mug"}); err == nil {
		t.Fatal("accepted for other filters")
	}
	if _, err := decodeCursor(c[:len(c)-3] + "AAA"); err == nil {
		t.Fatal("accepted a tampered cursor")
	}
}

func TestFoldLowerMatchesRust(t *testing.T) {
	for in, want := range map[string]string{"ABC": "abc", "İx": "i\u0307x", "ΟΔΟΣ": "οδος", "ΣΑ": "σα", "Α Σ": "α σ"} {
		if got := foldLower(in); got != want {
			t.Errorf("foldLower(%q) = %q, want %q", in, got, want)
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
