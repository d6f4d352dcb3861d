package fx

import (
	"net/http"
	"sort"
	"strings"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/httpx"
)

// maxQuotes is the most quotes one /v1/fx/rates request may name.
const maxQuotes = 20

// The messages of the 400s, the Rust service's words.
const (
	msgCode     = "must be a current ISO 4217 code, such as EUR"
	msgQuotes   = "must be 1 to 20 distinct ISO 4217 codes separated by commas, such as EUR,GBP"
	msgRequired = "is required"
	msgUnknown  = "is not a parameter of this operation (base and quotes are)"
)

// Register adds GET /v1/fx/rates to mux.
func (c *Client) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/fx/rates", c.rates)
}

// rates: GET /v1/fx/rates?base=USD&quotes=EUR,GBP → the rate from base to
// each quote, in the order asked. One lookup of base's table serves them all.
func (c *Client) rates(w http.ResponseWriter, r *http.Request) {
	base, quotes, p := parseRatesQuery(r.URL.RawQuery)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	found := make([]Quote, len(quotes))
	for i, q := range quotes {
		var err *Error
		if found[i], err = c.Rate(r.Context(), base, q); err != nil {
			httpx.WriteProblem(w, r, err.Problem())
			return
		}
	}
	buf := httpx.GetBuffer()
	buf.B = append(buf.B, `{"base":"`...)
	buf.B = append(buf.B, base.Code()...)
	buf.B = append(buf.B, `","rates":[`...)
	for i := range found {
		if i > 0 {
			buf.B = append(buf.B, ',')
		}
		buf.B = append(buf.B, `{"quote":"`...)
		buf.B = append(buf.B, quotes[i].Code()...)
		buf.B = append(buf.B, '"')
		buf.B = appendRate(buf.B, &found[i])
		buf.B = append(buf.B, '}')
	}
	buf.B = append(buf.B, "]}"...)
	buf.Write(w, http.StatusOK, "application/json")
}

// parseRatesQuery reads base and quotes, both required (a name given twice:
// the last value counts, as for every query parameter); any other parameter
// is refused. Every fault is listed: base, quotes, then the
// unknown parameters by name.
func parseRatesQuery(raw string) (currency.Currency, []currency.Currency, *httpx.Problem) {
	var baseText, quotesText *string
	unknown := map[string]struct{}{} // bounded by the query's length
	if p := httpx.EachQuery(raw, func(name, value string) {
		switch name {
		case "base":
			baseText = &value
		case "quotes":
			quotesText = &value
		default:
			unknown[name] = struct{}{}
		}
	}); p != nil {
		return 0, nil, p
	}
	var errs []httpx.FieldError
	bad := func(field, msg string) { errs = append(errs, httpx.FieldError{Field: field, Message: msg}) }
	var base currency.Currency
	if baseText == nil {
		bad("base", msgRequired)
	} else if b, ok := currency.Parse(*baseText); ok {
		base = b
	} else {
		bad("base", msgCode)
	}
	var quotes []currency.Currency
	if quotesText == nil {
		bad("quotes", msgRequired)
	} else if q, ok := quoteList(*quotesText); ok {
		quotes = q
	} else {
		bad("quotes", msgQuotes)
	}
	names := make([]string, 0, len(unknown))
	for name := range unknown {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		bad(name, msgUnknown)
	}
	if errs != nil {
		return 0, nil, httpx.InvalidParameter(errs)
	}
	return base, quotes, nil
}

// quoteList reads 1–20 distinct listed codes separated by commas.
func quoteList(list string) ([]currency.Currency, bool) {
	quotes := make([]currency.Currency, 0, 4)
	for code := range strings.SplitSeq(list, ",") {
		q, ok := currency.Parse(code)
		if !ok || len(quotes) == maxQuotes {
			return nil, false
		}
		for _, seen := range quotes {
			if seen == q {
				return nil, false
			}
		}
		quotes = append(quotes, q)
	}
	return quotes, true
}

// ParseTarget reads the currency parameter of the products routes: the
// currency to convert prices into (0 when absent), or the 400 naming it.
func ParseTarget(value string, given bool) (currency.Currency, *httpx.Problem) {
	if !given {
		return 0, nil
	}
	c, ok := currency.Parse(value)
	if !ok {
		return 0, httpx.InvalidParameter([]httpx.FieldError{{Field: "currency", Message: msgCode}})
	}
	return c, nil
}

// TargetError is the currency parameter's 400 entry, for handlers that
// list every invalid parameter at once.
func TargetError() httpx.FieldError { return httpx.FieldError{Field: "currency", Message: msgCode} }
