package httpx

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// problemBody is the struct WriteProblem used to marshal with encoding/json;
// AppendJSON must produce the same bytes.
type problemBody struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
	Field     *string      `json:"field,omitempty"`
}

func TestProblemJSONMatchesEncodingJSON(t *testing.T) {
	hostile := []string{"", "x", `"q"\`, "<&>", "\x00\x1f\x7f\b\f\n\r\t", "\u2028\u2029", "é😀", "\xff", "/v1/products/%FF"}
	problems := []*Problem{Internal(), Timeout(time.Second), RequestTimeout(time.Second), PayloadTooLarge(), NotFound("")}
	for _, s := range hostile {
		problems = append(problems, UnknownField(s), NotFound(s), Validation([]FieldError{{s, s}, {"b", s}}),
			InvalidParameter([]FieldError{{Field: s, Message: "m"}}))
	}
	for _, p := range problems {
		for _, path := range hostile {
			for _, rid := range []string{"", "0190f5c1-7c3e-7def-8a5b-3c5d5e6f7a8b", "<\u2028>"} {
				body := problemBody{Type: "/problems/" + p.Slug, Title: p.Title, Status: p.Status, Detail: p.Detail,
					Instance: path, RequestID: rid, Errors: p.Errors}
				if p.Field != "" {
					body.Field = &p.Field
				}
				var want bytes.Buffer
				if err := Marshal(&want, body); err != nil {
					t.Fatal(err)
				}
				if got := string(p.AppendJSON(nil, path, rid)); got != want.String() {
					t.Fatalf("\n got %s\nwant %s", got, want.String())
				}
			}
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	// Every byte value alone and after a multi-byte prefix, and every rune
	// around the ones encoding/json treats specially.
	var cases []string
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "é"+string([]byte{byte(c)})+"x")
	}
	for r := rune(0x2000); r < 0x2100; r++ {
		cases = append(cases, string(r))
	}
	cases = append(cases, "\xed\xa0\x80", "\xf4\x90\x80\x80", strings.Repeat("\xe2\x80", 3))
	for _, s := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		if got := string(AppendString(nil, s)) + "\n"; got != want.String() {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want.String())
		}
	}
}

func TestWriteProblemHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, httptest.NewRequest("GET", "/x", nil), NotFound("gone"))
	h := rec.Header()
	if h.Get("Content-Type") != "application/problem+json" || h.Get("Content-Length") != strconv.Itoa(rec.Body.Len()) || rec.Code != 404 {
		t.Fatalf("%d %v %s", rec.Code, h, rec.Body)
	}
}
