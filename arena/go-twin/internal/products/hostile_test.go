package products

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"overkill/arena/go-twin/internal/httpx"
)

// newTestMux serves the product routes without a store: every case below is
// decided before the store is reached (a nil store would panic otherwise).
func newTestMux() *http.ServeMux {
	mux := http.NewServeMux()
	NewHandler(nil, httpx.BodyLimits{MaxBytes: 1 << 20, ReadTimeout: 1e9}, slog.New(slog.DiscardHandler), nil).Register(mux)
	return mux
}

func do(t *testing.T, method, target, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	newTestMux().ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, target, rec.Body.String())
	}
	return rec.Code, m
}

func fieldsOf(p map[string]any) string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return strings.Join(out, " ")
}

func TestOnlyCanonicalIDs(t *testing.T) {
	for _, tc := range []struct {
		in string
		id int64
		ok bool
	}{
		{"1", 1, true}, {"2", 2, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"+2", 0, false}, {"002", 0, false}, {"0", 0, false}, {"-1", 0, false}, {"2.0", 0, false},
		{" 2", 0, false}, {"2 ", 0, false}, {"\xff", 0, false}, {"", 0, false}, {"1e2", 0, false},
		{"9223372036854775808", 0, false}, {"18446744073709551616", 0, false}, {"0x10", 0, false},
	} {
		if id, ok := parseCanonicalID(tc.in); id != tc.id || ok != tc.ok {
			t.Errorf("parseCanonicalID(%q) = %d, %v; want %d, %v", tc.in, id, ok, tc.id, tc.ok)
		}
	}
	for _, path := range []string{"%2B2", "+2", "002", "0", "-1", "2.0", "%202", "%FF", "9223372036854775808"} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			body := ""
			if method == "PATCH" {
				body = "{}"
			}
			status, p := do(t, method, "/v1/products/"+path, body)
			if status != 404 || p["type"] != "/problems/not-found" {
				t.Errorf("%s /v1/products/%s: %d %v", method, path, status, p)
			}
		}
	}
}

func TestOnlyCanonicalNumbersInQueries(t *testing.T) {
	for _, tc := range []struct{ query, fields string }{
		{"limit=%2B5", "limit"}, {"limit=05", "limit"}, {"limit=1e1", "limit"}, {"limit=%205", "limit"},
		{"min_price=-0", "min_price"}, {"min_price=%2B1", "min_price"}, {"max_price=01", "max_price"},
		{"max_price=1000000000001", "max_price"}, {"min_price=99999999999999999999", "min_price"},
		{"limit=00&min_price=00", "limit min_price"},
	} {
		status, p := do(t, "GET", "/v1/products?"+tc.query, "")
		if status != 400 || p["type"] != "/problems/invalid-parameter" || fieldsOf(p) != tc.fields {
			t.Errorf("%s: %d %v", tc.query, status, p)
		}
	}
	for in, want := range map[string]int64{"0": 0, "7": 7, "100": 100, "1000000000000": 1_000_000_000_000} {
		if n, ok := parseCanonical(in); !ok || n != want {
			t.Errorf("parseCanonical(%q) = %d, %v", in, n, ok)
		}
	}
}

func TestNULIsAValidationErrorNamingTheField(t *testing.T) {
	create := func(name, desc string) string {
		return fmt.Sprintf(`{"sku":"S-1","name":%s,"description":%s,"price_minor":1,"currency":"EUR","stock":1}`, name, desc)
	}
	for _, tc := range []struct{ body, fields string }{
		{create(`"a\u0000b"`, `null`), "name"},
		{create(`"ok"`, `"x\u0000"`), "description"},
		{create(`"\u0000"`, `"\u0000"`), "name description"},
		{`{"sku":"bad sku","name":"a\u0000","price_minor":-1,"currency":"EUR","stock":1}`, "sku name price_minor"},
	} {
		_, p := ParseCreate(members(t, tc.body))
		if p == nil || p.Status != 422 {
			t.Fatalf("%s: %v", tc.body, p)
		}
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Field)
		}
		if strings.Join(got, " ") != tc.fields {
			t.Errorf("%s: fields %v, want %s", tc.body, got, tc.fields)
		}
	}
	for _, tc := range []struct{ body, fields string }{
		{`{"name":"a\u0000"}`, "name"},
		{`{"description":"x\u0000"}`, "description"},
		{`{"description":"\u0000","stock":-1}`, "description stock"},
	} {
		_, p := ParsePatch(members(t, tc.body))
		if p == nil || p.Status != 422 || fieldsOf(map[string]any{"errors": toAny(p.Errors)}) != tc.fields {
			t.Errorf("%s: %+v", tc.body, p)
		}
	}
	for _, tc := range []struct{ query, fields string }{
		{"q=%00", "q"}, {"q=a%00b", "q"}, {"q=%FF", "q"}, {"q=%C0%AF", "q"}, {"q=%ED%A0%80", "q"},
		{"cursor=%00", "cursor"}, {"limit=0&q=%00", "q"}, {"colour=%00&q=x%FFy", "colour q"},
	} {
		status, p := do(t, "GET", "/v1/products?"+tc.query, "")
		if status != 400 || p["type"] != "/problems/invalid-parameter" || fieldsOf(p) != tc.fields {
			t.Errorf("%s: %d %v", tc.query, status, p)
		}
	}
}

func toAny(errs []httpx.FieldError) []any {
	out := make([]any, len(errs))
	for i, e := range errs {
		out[i] = map[string]any{"field": e.Field}
	}
	return out
}

// forge builds a cursor with a valid checksum around arbitrary contents, as
// anyone who reads this source can.
func forge(c cursorWire) string {
	c.Filter = Filter{}.fingerprint()
	c.Sum = c.checksum()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestForgedCursorsAreInvalidParameters(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    cursorWire
		ok   bool
	}{
		{"price ok", cursorWire{Sort: SortPrice, Int: maxPriceMinor, ID: 1}, true},
		{"created ok", cursorWire{Sort: SortCreatedAtDesc, Int: maxCreatedAtMicros, ID: 1 << 62}, true},
		{"name ok", cursorWire{Sort: SortName, Str: strings.Repeat("é", 200), ID: 3}, true},
		{"id 0", cursorWire{Sort: SortPrice, Int: 1, ID: 0}, false},
		{"id negative", cursorWire{Sort: SortPrice, Int: 1, ID: -5}, false},
		{"price negative", cursorWire{Sort: SortPrice, Int: -1, ID: 1}, false},
		{"price too big", cursorWire{Sort: SortPriceDesc, Int: maxPriceMinor + 1, ID: 1}, false},
		{"created negative", cursorWire{Sort: SortCreatedAt, Int: -1, ID: 1}, false},
		{"created past 9999", cursorWire{Sort: SortCreatedAt, Int: maxCreatedAtMicros + 1, ID: 1}, false},
		{"created max int64", cursorWire{Sort: SortCreatedAtDesc, Int: 1<<63 - 1, ID: 1}, false},
		{"name empty", cursorWire{Sort: SortName, ID: 1}, false},
		{"name too long", cursorWire{Sort: SortName, Str: strings.Repeat("a", 201), ID: 1}, false},
		{"name NUL", cursorWire{Sort: SortName, Str: "a\x00", ID: 1}, false},
		{"unknown sort", cursorWire{Sort: "id", Int: 1, ID: 1}, false},
	} {
		cur := forge(tc.c)
		if _, err := decodeCursor(cur); (err == nil) != tc.ok {
			t.Errorf("%s: decodeCursor err = %v", tc.name, err)
		}
		if tc.ok {
			continue
		}
		status, p := do(t, "GET", "/v1/products?sort="+string(tc.c.Sort)+"&cursor="+cur, "")
		if status != 400 || p["type"] != "/problems/invalid-parameter" || !strings.Contains(fieldsOf(p), "cursor") {
			t.Errorf("%s: %d %v", tc.name, status, p)
		}
	}
}

func TestDatabaseErrorsByCause(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("refused")}, 503},
		{"server hung up", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), 503},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, 503},
		{"connection exception", &pgconn.PgError{Code: "08006"}, 503},
		{"too many connections", &pgconn.PgError{Code: "53300"}, 503},
		{"out of range", &pgconn.PgError{Code: "22008"}, 500},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, 503},
		{"lock not available", &pgconn.PgError{Code: "55P03"}, 503},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, 503},
		{"check violation", &pgconn.PgError{Code: "23514"}, 500},
		{"invalid text", &pgconn.PgError{Code: "22021"}, 500},
		{"driver conversion", errors.New("cannot encode time: out of range"), 500},
		{"not found", ErrNotFound, 404},
		{"duplicate", ErrDuplicateSKU, 409},
	} {
		h := &Handler{log: slog.New(slog.DiscardHandler)}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/products/1", nil).WithContext(context.Background())
		h.fail(rec, req, tc.err)
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.status)
		}
		if got := rec.Header().Get("Retry-After"); (tc.status == 503) != (got == "1") {
			t.Errorf("%s: Retry-After = %q", tc.name, got)
		}
	}
}
