package products

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"overkill/arena/go-twin/internal/httpx"
)

// hostileStrings: everything encoding/json escapes or replaces, and what it
// leaves alone with HTML escaping off.
var hostileStrings = []string{
	"", "plain", `"quoted"`, `back\slash`, "<script>&amp;</script>", "tab\there\nnew\rline",
	"\x00\x01\x07\b\f\x0b\x1f\x7f", "line\u2028sep\u2029para", "é☕😀", "\xff\xfe", "a\xc3", "\xed\xa0\x80",
	"\u00a0\ufeff\ufffd", "'single'", "/slash/", strings.Repeat("x", 3000),
}

func randomString(rng *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", " ", `"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "\n", "\t",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\ufffd"}
	var sb strings.Builder
	for range rng.IntN(40) {
		sb.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

func encodingJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := httpx.Marshal(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func hostileProducts() []Product {
	rng := rand.New(rand.NewPCG(7, 11))
	var out []Product
	times := []time.Time{
		time.Date(2026, 11, 29, 1, 2, 3, 456789000, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Unix(0, 0).UTC(),
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	for i := range 2000 {
		var s [4]string
		for j := range s {
			if i < len(hostileStrings) {
				s[j] = hostileStrings[(i+j)%len(hostileStrings)]
			} else {
				s[j] = randomString(rng)
			}
		}
		p := Product{ID: rng.Int64(), SKU: s[0], Name: s[1], PriceMinor: rng.Int64N(maxPriceMinor + 1),
			Currency: s[3], Stock: rng.Int64N(maxStock + 1), Version: int64(i),
			CreatedAt: Timestamp(times[i%len(times)]), UpdatedAt: Timestamp(times[(i+1)%len(times)])}
		if i%3 != 0 {
			p.Description = &s[2]
		}
		if i%7 == 0 {
			p.ID, p.PriceMinor, p.Stock = math.MaxInt64, math.MinInt64, -1
		}
		out = append(out, p)
	}
	return out
}

func TestProductJSONMatchesEncodingJSON(t *testing.T) {
	for _, p := range hostileProducts() {
		if got, want := string(p.AppendJSON(nil)), encodingJSON(t, &p); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

func TestPageJSONMatchesEncodingJSON(t *testing.T) {
	all := hostileProducts()
	next := "eyJzb3J0Ijoi\u2028<&>"
	for _, tc := range []struct {
		items []Product
		next  *string
	}{{[]Product{}, nil}, {all[:1], nil}, {all[:50], &next}, {all[50:150], nil}} {
		want := encodingJSON(t, listResponse{Items: tc.items, NextCursor: tc.next})
		if got := string(appendPage(nil, tc.items, tc.next)); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

// The timestamp's own buffer is large enough: AppendFormat never grows it.
func TestTimestampMarshalFitsItsBuffer(t *testing.T) {
	ts := Timestamp(time.Date(2026, 11, 29, 1, 2, 3, 456789123, time.UTC))
	b, _ := ts.MarshalJSON()
	if string(b) != `"2026-11-29T01:02:03.456789Z"` || cap(b) != timestampJSONCap {
		t.Fatalf("%s (cap %d)", b, cap(b))
	}
}
