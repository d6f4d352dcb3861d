package httpx

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEvery503SaysRetryAfter(t *testing.T) {
	for _, p := range []*Problem{Unavailable("down"), Timeout(time.Second), NotFound("x"), RequestTimeout(time.Second), Internal()} {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/v1/products", nil), p)
		got := rec.Header().Get("Retry-After")
		if want := map[bool]string{true: "1", false: ""}[p.Status == 503]; got != want {
			t.Errorf("%s (%d): Retry-After = %q, want %q", p.Slug, p.Status, got, want)
		}
	}
}

// slowBody yields its first bytes, then blocks until the request ends.
type slowBody struct {
	first string
	ctx   context.Context
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.first != "" {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.ctx.Done()
	return 0, &timeoutError{}
}

type timeoutError struct{}

func (*timeoutError) Error() string { return "i/o timeout" }
func (*timeoutError) Timeout() bool { return true }

func TestReadBody(t *testing.T) {
	lim := BodyLimits{MaxBytes: 8, ReadTimeout: time.Second}
	for _, tc := range []struct {
		name     string
		body     io.Reader
		length   int64 // -1: unknown (chunked)
		slug     string
		closeReq bool
	}{
		{"declared and within", strings.NewReader(`{"a":1}`), 7, "", false},
		{"chunked and within", strings.NewReader(`{"a":1}`), -1, "", false},
		{"declared over the limit, nothing read", failingReader{t}, 9, "payload-too-large", true},
		{"chunked over the limit", strings.NewReader(`{"a":"123456"}`), -1, "payload-too-large", false},
		{"short body", strings.NewReader(`{}`), 7, "malformed-json", false},
	} {
		req := httptest.NewRequest("POST", "/v1/products", tc.body)
		req.ContentLength = tc.length
		rec := httptest.NewRecorder()
		body, p := ReadBody(rec, req, lim)
		switch {
		case tc.slug == "" && (p != nil || len(body) != 7):
			t.Errorf("%s: %q %v", tc.name, body, p)
		case tc.slug != "" && (p == nil || p.Slug != tc.slug):
			t.Errorf("%s: %v, want %s", tc.name, p, tc.slug)
		case tc.closeReq != (rec.Header().Get("Connection") == "close"):
			t.Errorf("%s: Connection = %q", tc.name, rec.Header().Get("Connection"))
		}
	}
}

type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("the body was read")
	return 0, io.EOF
}

// A body still arriving at the request deadline, when that comes before the
// body-read timeout, is the request's timeout (503), not the client's (408).
func TestReadBodyRequestDeadlineFirst(t *testing.T) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, ErrRequestTimeout)
	defer cancel()
	ctx = WithInfo(ctx, &Info{RequestID: "r", Timeout: 50 * time.Millisecond})
	req := httptest.NewRequest("POST", "/v1/products", &slowBody{first: "{", ctx: ctx}).WithContext(ctx)
	req.ContentLength = 5
	rec := httptest.NewRecorder()
	_, p := ReadBody(rec, req, BodyLimits{MaxBytes: 8, ReadTimeout: time.Hour})
	if p == nil || p.Slug != "timeout" || p.Status != 503 {
		t.Fatalf("%+v", p)
	}
	WriteProblem(rec, req, p)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Header().Get("Retry-After") != "1" || body["request_id"] != "r" {
		t.Fatalf("%v %v", rec.Header(), body)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"q=a+b&limit=5", map[string]string{"q": "a b", "limit": "5"}},
		{"q=1&q=2", map[string]string{"q": "2"}},
		{"q=%41%2b%zz%4", map[string]string{"q": "A+%zz%4"}},
		{"q=a;b&&flag", map[string]string{"q": "a;b", "flag": ""}},
		{"q=%C3%A9", map[string]string{"q": "é"}},
	} {
		got, p := ParseQuery(tc.raw)
		if p != nil || len(got) != len(tc.want) {
			t.Errorf("%q: %v %v", tc.raw, got, p)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.raw, k, got[k], v)
			}
		}
	}
	for raw, fields := range map[string]string{"q=%00": "q", "q=%FF&sort=%00": "q sort", "a=%C0%80": "a"} {
		_, p := ParseQuery(raw)
		var got []string
		if p != nil {
			for _, e := range p.Errors {
				got = append(got, e.Field)
			}
		}
		if p == nil || p.Status != 400 || strings.Join(got, " ") != fields {
			t.Errorf("%q: %+v", raw, p)
		}
	}
}

// EachKey finds the same top-level names as encoding/json's tokenizer.
func TestEachKeyMatchesDecoder(t *testing.T) {
	for _, obj := range []string{
		`{}`, ` { } `, `{"a":1}`, "{\n\"a\" :\t[1,{\"b\":\"]}\"}],\"c\":{\"d\":{}},\"e\":\"\\\"\",\"\\u00e9\":null,\"f\":-1.5e3,\"g\":true}",
		`{"a":"x","a":"y"}`, `{"":[[[]]],"z":"\\\\"}`,
	} {
		var got []string
		var dst map[string]json.RawMessage
		if p := DecodeObject([]byte(obj), &dst); p != nil {
			t.Fatalf("%s: %v", obj, p)
		}
		EachKey([]byte(obj), func(k []byte) { got = append(got, string(k)) })
		var want []string
		dec := json.NewDecoder(strings.NewReader(obj))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			want = append(want, k.(string))
			var v json.RawMessage
			dec.Decode(&v)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("%s: %q, want %q", obj, got, want)
		}
	}
}

// A problem that knows when to retry says so; other 503s say 1 s.
func TestASpecificRetryAfterWins(t *testing.T) {
	for _, tc := range []struct {
		p    *Problem
		want string
	}{
		{&Problem{Slug: "fx-unavailable", Status: 503, RetryAfter: 30}, "30"},
		{&Problem{Slug: "unavailable", Status: 503}, "1"},
		{&Problem{Slug: "not-found", Status: 404}, ""},
	} {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/", nil), tc.p)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%s: Retry-After %q, want %q", tc.p.Slug, got, tc.want)
		}
	}
}
