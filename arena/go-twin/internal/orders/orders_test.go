package orders

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"overkill/arena/go-twin/internal/httpx"
)

func fields(p *httpx.Problem) string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return strings.Join(out, " ")
}

func TestCreateReportsEveryInvalidFieldByPath(t *testing.T) {
	_, p := ParseCreate([]byte(`{"lines":[{"product_id":1,"quantity":0},{"product_id":2,"quantity":1},
		{"product_id":1.0,"quantity":1.5},{"quantity":2},7,{"product_id":"3","quantity":null}],"customer_ref":"a b"}`))
	want := "customer_ref lines[0].quantity lines[2].quantity lines[3].product_id lines[4] " +
		"lines[5].product_id lines[5].quantity"
	if p == nil || p.Status != 422 || fields(p) != want {
		t.Fatalf("got %+v", p)
	}
	// Only a line valid in both members is checked for a repeat.
	_, p = ParseCreate([]byte(`{"lines":[{"product_id":1,"quantity":0},{"product_id":1,"quantity":1},{"product_id":1e0,"quantity":2}]}`))
	if p == nil || fields(p) != "lines[0].quantity lines[2].product_id" || p.Errors[1].Message != "repeats the product of lines[1]" {
		t.Fatalf("got %+v", p)
	}
}

func TestLinesShape(t *testing.T) {
	many := `{"lines":[` + strings.Repeat(`{"product_id":1,"quantity":1},`, 50) + `{"product_id":1,"quantity":1}]}`
	for _, body := range []string{`{}`, `{"lines":null}`, `{"lines":[]}`, `{"lines":{}}`, `{"lines":"x"}`, many} {
		if _, p := ParseCreate([]byte(body)); p == nil || p.Status != 422 || fields(p) != "lines" {
			t.Errorf("%.40s: %+v", body, p)
		}
	}
}

func TestUnknownMembersAreNamedWithTheirPath(t *testing.T) {
	for body, field := range map[string]string{
		`{"lines":[{"product_id":1,"quantity":1}],"zeta":1,"alpha":2}`:                         "alpha",
		`{"lines":[{"product_id":1,"quantity":1},{"product_id":2,"quantity":1,"colour":"r"}]}`: "lines[1].colour",
		`{"lines":[{"product_id":1,"quantity":1,"b":1,"a":1}]}`:                                "lines[0].a",
		`{"Lines":[]}`: "Lines", `{"lines":[{"Product_ID":1,"quantity":1}]}`: "lines[0].Product_ID",
		`{"lines":[{"product_id":1,"quantity":1}],"customer_ref":null,"x":1}`: "x",
	} {
		if _, p := ParseCreate([]byte(body)); p == nil || p.Slug != "unknown-field" || p.Field != field {
			t.Errorf("%s: %+v", body, p)
		}
	}
}

func TestValidCreate(t *testing.T) {
	no, p := ParseCreate([]byte(` {"customer_ref":"cust-42:x.y_z","lines":[{"quantity":2,"product_id":9223372036854775807},
		{"product_id":1e2,"quantity":1000},{"product_id":-0.0e0,"quantity":1}]} `))
	if p == nil || fields(p) != "lines[2].product_id" {
		t.Fatalf("-0 as a product id: %+v", p)
	}
	no, p = ParseCreate([]byte(`{"customer_ref":null,"lines":[{"quantity":2,"product_id":9223372036854775807},{"product_id":1e2,"quantity":1000.0}]}`))
	if p != nil || len(no.Lines) != 2 || no.Lines[0].ProductID != 1<<63-1 || no.Lines[1] != (LineRequest{100, 1000}) || no.CustomerRef != nil {
		t.Fatalf("%+v %+v", no, p)
	}
}

func TestProductIDRange(t *testing.T) {
	for _, id := range []string{"0", "-1", "9223372036854775808", "9.223372036854775807e18", "1e19", "1.5", `"1"`, "true",
		"9.223372036854774784e18", "9007199254740993.0"} {
		if _, p := ParseCreate([]byte(`{"lines":[{"product_id":` + id + `,"quantity":1}]}`)); p == nil || fields(p) != "lines[0].product_id" {
			t.Errorf("%s: %+v", id, p)
		}
	}
	// Past 2^53 only plain digits are exact; up to it any spelling is.
	if no, p := ParseCreate([]byte(`{"lines":[{"product_id":4.5e15,"quantity":1}]}`)); p != nil || no.Lines[0].ProductID != 4500000000000000 {
		t.Errorf("%+v %+v", no, p)
	}
}

func row(id int64, cur string, price, stock int64) StockRow {
	return StockRow{ID: id, SKU: "S", Name: "N", PriceMinor: price, Currency: cur, Stock: stock}
}

func TestReserveChecksInTheContractsOrder(t *testing.T) {
	rows := []StockRow{row(1, "EUR", 100, 5), row(2, "USD", 100, 5), row(3, "EUR", 1_000_000_000_000, 1_000_000)}
	req := func(pairs ...int64) []LineRequest {
		var out []LineRequest
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, LineRequest{pairs[i], pairs[i+1]})
		}
		return out
	}
	// Unknown products first, every one listed.
	if _, _, _, p := reserve(req(9, 1, 2, 1, 8, 1), rows); p == nil || fields(p) != "lines[0].product_id lines[2].product_id" {
		t.Fatalf("unknown: %+v", p)
	}
	// Then one currency: each line unlike lines[0].
	if _, _, _, p := reserve(req(1, 1, 2, 99, 3, 1), rows); p == nil || fields(p) != "lines[1].product_id" {
		t.Fatalf("currency: %+v", p)
	}
	// Then the total: 9 × 10^12 × 1000 > 2^53 − 1.
	if _, _, _, p := reserve(req(3, 1000, 1, 1), append(rows[:2:2], row(3, "EUR", 9_007_199_254_741, 1_000_000))); p == nil || fields(p) != "lines" {
		t.Fatalf("total: %+v", p)
	}
	// Then stock: every short line in request order.
	_, _, _, p := reserve(req(3, 1000, 1, 6), rows[:1:1])
	if p == nil || p.Slug != "validation-error" {
		t.Fatalf("%+v", p)
	}
	rows2 := []StockRow{row(1, "EUR", 100, 5), row(4, "EUR", 1, 0), row(7, "EUR", 1, 3)}
	_, _, _, p = reserve(req(7, 4, 1, 5, 4, 1), rows2)
	if p == nil || p.Status != 409 || p.Slug != "insufficient-stock" {
		t.Fatalf("%+v", p)
	}
	body := p.AppendJSON(nil, "/v1/orders", "r")
	var got struct {
		ShortLines []map[string]int64 `json:"short_lines"`
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.ShortLines) != 2 ||
		got.ShortLines[0]["product_id"] != 7 || got.ShortLines[0]["requested"] != 4 || got.ShortLines[0]["available"] != 3 ||
		got.ShortLines[1]["product_id"] != 4 || got.ShortLines[1]["available"] != 0 {
		t.Fatalf("%s %v", body, err)
	}
	lines, total, cur, p := reserve(req(7, 3, 1, 5), rows2)
	if p != nil || total != 503 || cur != "EUR" || len(lines) != 2 || lines[0].ProductID != 7 || lines[1].Total() != 500 {
		t.Fatalf("%+v %d %s %+v", lines, total, cur, p)
	}
}

func TestRestockSkipsDeletedProducts(t *testing.T) {
	lines := []Line{{ProductID: 1, Quantity: 10}, {ProductID: 2, Quantity: 10}}
	if p := restock(lines, []StockRow{{ID: 2, Stock: maxStock - 10}}); p != nil {
		t.Fatal("at the limit is fine; product 1 is gone")
	}
	if p := restock(lines, []StockRow{{ID: 1, Stock: 0}, {ID: 2, Stock: maxStock - 9}}); p == nil || p.Status != 409 || p.Slug != "conflict" {
		t.Fatal("past the limit")
	}
}

func TestIdempotencyKeyForms(t *testing.T) {
	for v, want := range map[string]string{"abc-123": "abc-123", "a b": "a b", `"abc-123"`: "abc-123",
		`"a\"b\\c"`: `a"b\c`, strings.Repeat("k", 255): strings.Repeat("k", 255), `"k`: `"k`, `"`: `"`} {
		if got, ok := parseKeyValue(v); !ok || got != want {
			t.Errorf("%q: %q %v", v, got, ok)
		}
	}
	for _, v := range []string{"", `""`, "\x7f", "ключ", "a\tb", `"a"b"`, `"a\b"`, `"a\"`, strings.Repeat("k", 256)} {
		if got, ok := parseKeyValue(v); ok {
			t.Errorf("%q accepted as %q", v, got)
		}
	}
	if _, present, p := ParseKey(http.Header{"Idempotency-Key": {"a", "b"}}); !present || p == nil || p.Slug != "invalid-idempotency-key" {
		t.Fatal("two headers")
	}
	if _, present, p := ParseKey(http.Header{}); present || p != nil {
		t.Fatal("absent")
	}
}

func TestFingerprintsSeparateMethodPathAndBody(t *testing.T) {
	base := fingerprint("POST", "/v1/orders", []byte("{}"))
	if base != fingerprint("POST", "/v1/orders", []byte("{}")) ||
		base == fingerprint("POST", "/v1/orders", []byte("{ }")) ||
		base == fingerprint("POST", "/v1/orders/1/cancel", []byte("{}")) ||
		fingerprint("POST", "/a", []byte("b")) == fingerprint("POST", "/ab", nil) {
		t.Fatal("fingerprints")
	}
}

func TestCursorIsBoundToSortAndFilters(t *testing.T) {
	f := Filter{Status: "placed", CustomerRef: "c1"}
	c := encodeCursor(true, f, position{CreatedAt: 1_700_000_000_000_000, ID: 7})
	if pos, err := decodeCursor(c, true, f); err != nil || pos.ID != 7 || pos.CreatedAt != 1_700_000_000_000_000 {
		t.Fatalf("%+v %v", pos, err)
	}
	for _, bad := range []struct {
		desc bool
		f    Filter
	}{{false, f}, {true, Filter{Status: "placed"}}, {true, Filter{CustomerRef: "c1"}}} {
		if _, err := decodeCursor(c, bad.desc, bad.f); err == nil {
			t.Errorf("accepted for %+v", bad)
		}
	}
	if _, err := decodeCursor(c[:len(c)-3]+"AAA", true, f); err == nil {
		t.Fatal("accepted a tampered cursor")
	}
	if _, err := decodeCursor(encodeCursor(true, f, position{CreatedAt: maxCreatedAtMicros + 1, ID: 1}), true, f); err == nil {
		t.Fatal("accepted an out-of-range key")
	}
}

// The order's JSON is what encoding/json makes of the contract's shape.
func TestOrderJSON(t *testing.T) {
	ref := "c\"<1>"
	o := Order{ID: 7, Status: StatusPlaced, CustomerRef: &ref, Currency: "EUR", TotalMinor: 3998, Version: 1,
		Lines: []Line{{ProductID: 1, SKU: "ABC-1", Name: "Wid\u2028get", UnitPriceMinor: 1999, Quantity: 2}}}
	var got map[string]any
	if err := json.Unmarshal(o.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	line := got["lines"].([]any)[0].(map[string]any)
	if got["customer_ref"] != ref || line["line_total_minor"] != 3998.0 || line["name"] != "Wid\u2028get" || got["status"] != "placed" {
		t.Fatalf("%v", got)
	}
	if o.ETag() != `"7-1"` || o.Location() != "/v1/orders/7" {
		t.Fatal(o.ETag(), o.Location())
	}
}
