package fx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestQuotesAreOneToTwentyDistinctCodes(t *testing.T) {
	twenty := "EUR,GBP,JPY,CHF,AUD,CAD,NZD,SEK,NOK,DKK,PLN,CZK,HUF,RON,BGN,ISK,TRY,ILS,INR,KRW"
	for list, ok := range map[string]bool{
		"GBP,EUR": true, twenty: true, "USD": true,
		"": false, "EUR,": false, ",EUR": false, "EUR,,GBP": false, "EUR,EUR": false, "eur": false,
		"EURO": false, "XXX": false, twenty + ",MXN": false, "EUR, GBP": false,
	} {
		quotes, got := quoteList(list)
		if got != ok {
			t.Errorf("%q: %v", list, got)
		}
		if ok {
			var codes []string
			for _, q := range quotes {
				codes = append(codes, q.Code())
			}
			if strings.Join(codes, ",") != list {
				t.Errorf("%q: %v, not in the order asked", list, codes)
			}
		}
	}
}

func TestEveryFaultOfTheRatesQueryIsListed(t *testing.T) {
	for query, fields := range map[string][]string{
		"base=usd&symbols=EUR&amount=1":      {"base", "quotes", "amount", "symbols"},
		"":                                   {"base", "quotes"},
		"base=usd&base=USD&quotes=EUR":       nil, // the last value counts
		"base=USD&quotes=EUR,EUR&quotes=GBP": nil,
		"base=USD&quotes=EUR,EUR":            {"quotes"},
		"base=USD&quotes=EUR&base%00=1":      {"base\x00"},
		"base=U%FFSD&quotes=EUR":             {"base"},
		"base=USD&quotes=EUR%2CGBP&limit=2":  {"limit"},
	} {
		_, _, p := parseRatesQuery(query)
		var got []string
		if p != nil {
			if p.Slug != "invalid-parameter" || p.Status != 400 {
				t.Errorf("%q: %s", query, p.Slug)
			}
			for _, e := range p.Errors {
				got = append(got, e.Field)
			}
		}
		if !reflect.DeepEqual(got, fields) {
			t.Errorf("%q: fields %q, want %q", query, got, fields)
		}
	}
	if _, quotes, p := parseRatesQuery("base=USD&quotes=USD,EUR"); p != nil || len(quotes) != 2 {
		t.Errorf("the base among the quotes: %v", p)
	}
}

func TestTheRatesEndpoint(t *testing.T) {
	f := newFake(t, func(_ int64, w http.ResponseWriter, r *http.Request) { table(w, r) })
	c := client(t, settings(f.srv.URL))
	mux := http.NewServeMux()
	c.Register(mux)
	get := func(target string) (*httptest.ResponseRecorder, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %s", target, rec.Body)
		}
		return rec, body
	}
	rec, body := get("/v1/fx/rates?base=USD&quotes=JPY,USD,EUR")
	want := `{"base":"USD","rates":[{"quote":"JPY","rate":"156.45","rate_date":"2026-11-27","source":"live"},` +
		`{"quote":"USD","rate":"1","rate_date":"` + c.todayUTC() + `","source":"live"},` +
		`{"quote":"EUR","rate":"0.9234","rate_date":"2026-11-27","source":"cached"}]}`
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	rec, body = get("/v1/fx/rates?base=USD&quotes=EUR,GBP")
	if rec.Code != 422 || body["type"] != "/problems/fx-unsupported-currency" || body["title"] != "Currency not supported" {
		t.Errorf("GBP: %d %v", rec.Code, body)
	}
	var off *Client
	mux = http.NewServeMux()
	off.Register(mux)
	rec, body = get("/v1/fx/rates?base=USD&quotes=EUR")
	if rec.Code != 422 || body["type"] != "/problems/fx-disabled" || body["title"] != "Currency conversion is disabled" {
		t.Errorf("off: %d %v", rec.Code, body)
	}
}
