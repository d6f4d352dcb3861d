package products

import (
	"net/http"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
)

// target reads GET /v1/products/{id}'s currency parameter (0 when absent)
// without building a map; a 400 when it is not a listed code, a 422 when
// conversion is off. Other parameters are ignored, as before.
func (h *Handler) target(r *http.Request) (currency.Currency, *httpx.Problem) {
	if r.URL.RawQuery == "" {
		return 0, nil
	}
	v, given, p := httpx.QueryValue(r.URL.RawQuery, "currency")
	if p != nil {
		return 0, p
	}
	target, p := fx.ParseTarget(v, given)
	if p == nil && target != 0 && !h.fx.Enabled() {
		p = fx.ErrDisabled().Problem()
	}
	return target, p
}

// conversion is one product's price in the target currency.
type conversion struct {
	amountMinor int64
	quote       fx.Quote
}

// convert prices p in target.
func (h *Handler) convert(r *http.Request, p *Product, target currency.Currency, q *fx.Quote) (conversion, *httpx.Problem) {
	from, _ := currency.Parse(p.Currency) // stored currencies are listed ones
	if q == nil {
		found, err := h.fx.Rate(r.Context(), from, target)
		if err != nil {
			return conversion{}, err.Problem()
		}
		q = &found
	}
	amount, ok := q.Rate.Convert(p.PriceMinor, from, target)
	if !ok {
		return conversion{}, fx.ErrOutOfRange.Problem()
	}
	return conversion{amount, *q}, nil
}

// writeConverted writes p with its converted price, without an ETag.
func (h *Handler) writeConverted(w http.ResponseWriter, r *http.Request, p *Product, target currency.Currency) {
	c, prob := h.convert(r, p, target, nil)
	if prob != nil {
		httpx.WriteProblem(w, r, prob)
		return
	}
	buf := httpx.GetBuffer()
	buf.B = appendConverted(buf.B, p, target, &c)
	buf.Write(w, http.StatusOK, "application/json")
}

// writeConvertedList converts every item or fails as a whole: one rate
// lookup per source currency on the page, never per item.
func (h *Handler) writeConvertedList(w http.ResponseWriter, r *http.Request, items []Product, next *string, target currency.Currency) {
	var quotes [8]struct { // a page's distinct currencies, usually one or two
		from currency.Currency
		q    fx.Quote
	}
	found := quotes[:0]
	conv := make([]conversion, len(items))
	for i := range items {
		from, _ := currency.Parse(items[i].Currency)
		var q *fx.Quote
		for j := range found {
			if found[j].from == from {
				q = &found[j].q
				break
			}
		}
		if q == nil {
			got, err := h.fx.Rate(r.Context(), from, target)
			if err != nil {
				httpx.WriteProblem(w, r, err.Problem())
				return
			}
			found = append(found, struct {
				from currency.Currency
				q    fx.Quote
			}{from, got})
			q = &found[len(found)-1].q
		}
		var prob *httpx.Problem
		if conv[i], prob = h.convert(r, &items[i], target, q); prob != nil {
			httpx.WriteProblem(w, r, prob)
			return
		}
	}
	buf := httpx.GetBuffer()
	buf.B = append(buf.B, `{"items":[`...)
	for i := range items {
		if i > 0 {
			buf.B = append(buf.B, ',')
		}
		buf.B = appendConverted(buf.B, &items[i], target, &conv[i])
	}
	buf.B = append(buf.B, `],"next_cursor":`...)
	buf.B = httpx.AppendNullableString(buf.B, next)
	buf.B = append(buf.B, '}')
	buf.Write(w, http.StatusOK, "application/json")
}

// appendConverted appends p's object with a last member
// "converted":{"currency":…,"amount_minor":…,"rate":…,"rate_date":…,"source":…}.
func appendConverted(b []byte, p *Product, target currency.Currency, c *conversion) []byte {
	b = p.appendMembers(b)
	b = append(b, `,"converted":`...)
	b = fx.AppendConverted(b, target, c.amountMinor, &c.quote)
	return append(b, '}')
}
