package products

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
)

const (
	defaultLimit  = 20
	maxLimit      = 100
	maxQLen       = 200
	patchAttempts = 8
)

// Handler serves the /v1/products routes.
type Handler struct {
	store *Store
	body  httpx.BodyLimits
	log   *slog.Logger
	fx    *fx.Client // nil: conversion off (currency= is a 422 fx-disabled)
}

// NewHandler serves products from store; rates converts prices when a
// request asks for another currency (nil: conversion is off).
func NewHandler(store *Store, body httpx.BodyLimits, log *slog.Logger, rates *fx.Client) *Handler {
	return &Handler{store: store, body: body, log: log, fx: rates}
}

// Register adds the product routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/products", h.list)
	mux.HandleFunc("POST /v1/products", h.create)
	mux.HandleFunc("GET /v1/products/{id}", h.get)
	mux.HandleFunc("PATCH /v1/products/{id}", h.patch)
	mux.HandleFunc("DELETE /v1/products/{id}", h.delete)
}

type listResponse struct {
	Items      []Product `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// setETag sets the header under its conventional spelling "ETag" (Go would
// canonicalise it to "Etag" on HTTP/1.1; clients compare case-insensitively).
func setETag(w http.ResponseWriter, tag string) { w.Header()["ETag"] = []string{tag} }

func writeProduct(w http.ResponseWriter, status int, p *Product) {
	setETag(w, p.ETag())
	buf := httpx.GetBuffer()
	buf.B = p.AppendJSON(buf.B)
	buf.Write(w, status, "application/json")
}

// fail maps an error to its problem response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var prob *httpx.Problem
	switch {
	case errors.As(err, &prob):
	case errors.Is(err, ErrNotFound):
		prob = notFound(r)
	case errors.Is(err, ErrDuplicateSKU):
		prob = httpx.Conflict("a product with this sku already exists")
	case httpx.TimedOut(r.Context()):
		prob = httpx.Timeout(httpx.RequestTimeoutOf(r.Context()))
	case unavailable(err), errors.Is(err, context.Canceled):
		prob = httpx.Unavailable("the database is unavailable; retry shortly")
	default:
		// Anything else (an SQL error, a conversion error in the driver) is
		// a bug, not an outage: a 500, logged once here with its cause.
		h.log.ErrorContext(r.Context(), "database error", "error", err, "request_id", httpx.RequestID(r.Context()))
		prob = httpx.Internal()
	}
	httpx.WriteProblem(w, r, prob)
}

// unavailable reports whether err means the database cannot serve the
// statement now (an outage or a busy database: 503, worth retrying) rather
// than that the statement is wrong (a bug: 500).
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) // the server hung up
}

// unavailableSQLState: the server refuses the session (class 08 connection
// exceptions, shutting down, starting up, too many connections) or is busy
// (a lost serialization race or deadlock, a lock or statement timeout), as
// the Rust service classifies them.
func unavailableSQLState(code string) bool {
	if len(code) >= 2 && code[:2] == "08" {
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "53300", // admin/crash shutdown, cannot connect now, too many connections
		"40001", "40P01", "55P03", "57014": // serialization failure, deadlock, lock not available, query canceled
		return true
	}
	return false
}

func notFound(r *http.Request) *httpx.Problem {
	return httpx.NotFound("there is no product with id " + r.PathValue("id")) // ARENA-EDIT-MARKER
}

func stale(cur *Product) *httpx.Problem {
	return httpx.PreconditionFailed("the product is at ETag " + cur.ETag() + "; fetch it and retry")
}

// parseID accepts only the canonical decimal form of a positive int64: no
// sign, no leading zero, no spaces, no overflow. Anything else ("+2", "002",
// "0", "2.0", "%FF") names no product and is a 404.
func parseID(r *http.Request) (int64, bool) {
	return parseCanonicalID(r.PathValue("id"))
}

func parseCanonicalID(s string) (int64, bool) {
	id, ok := parseCanonical(s)
	return id, ok && id > 0
}

// parseCanonical accepts the canonical decimal form of a non-negative int64:
// "0", or digits without a leading zero; no sign, space, fraction or
// exponent, no overflow. The one rule for ids and numeric query parameters.
func parseCanonical(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64) // only overflow can fail here
	if err != nil {
		return 0, false
	}
	return n, true
}

func (h *Handler) readObject(w http.ResponseWriter, r *http.Request, mediaTypes ...string) (*Body, *httpx.Problem) {
	if p := httpx.RequireContentType(r, mediaTypes...); p != nil {
		return nil, p
	}
	body, p := httpx.ReadBody(w, r, h.body)
	if p != nil {
		return nil, p
	}
	return DecodeBody(body)
}

// parseCreateBody parses and validates a POST body.
func parseCreateBody(body []byte) (NewProduct, *httpx.Problem) {
	b, p := DecodeBody(body)
	if p != nil {
		return NewProduct{}, p
	}
	return ParseCreate(b)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	if p := httpx.RequireContentType(r, "application/json"); p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	body, p := httpx.ReadBody(w, r, h.body)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	np, p := parseCreateBody(body)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	prod, err := h.store.Create(r.Context(), np, Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/products/"+strconv.FormatInt(prod.ID, 10))
	writeProduct(w, http.StatusCreated, &prod)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r)
	if !ok {
		httpx.WriteProblem(w, r, notFound(r))
		return
	}
	target, p := h.target(r)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	prod, err := h.store.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if target != 0 {
		// The converted view changes with the rate: no ETag, and
		// If-None-Match is not evaluated.
		h.writeConverted(w, r, &prod, target)
		return
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		for _, v := range inm {
			if etagMatches(v, prod.ETag(), true) {
				setETag(w, prod.ETag())
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	writeProduct(w, http.StatusOK, &prod)
}

// ifMatch returns the joined If-Match header and whether it was sent.
func ifMatch(r *http.Request) (string, bool) {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 {
		return "", false
	}
	joined := vals[0]
	for _, v := range vals[1:] {
		joined += "," + v
	}
	return joined, true
}

// patch applies a JSON merge patch. Order of checks: media type, size and
// JSON shape; the product (404); If-Match (412); then the fields (400/422).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	body, p := h.readObject(w, r, "application/merge-patch+json", "application/json")
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	id, ok := parseID(r)
	if !ok {
		httpx.WriteProblem(w, r, notFound(r))
		return
	}
	cond, conditional := ifMatch(r)
	ctx := r.Context()
	cur, err := h.store.Get(ctx, id)
	for attempt := 0; err == nil && attempt < patchAttempts; attempt++ {
		if conditional && !etagMatches(cond, cur.ETag(), false) {
			httpx.WriteProblem(w, r, stale(&cur))
			return
		}
		patch, p := ParsePatch(body)
		if p != nil {
			httpx.WriteProblem(w, r, p)
			return
		}
		next := cur
		patch.Apply(&next)
		var updated Product
		updated, err = h.store.Update(ctx, &next, cur.Version, Now())
		if err == nil {
			writeProduct(w, http.StatusOK, &updated)
			return
		}
		if !errors.Is(err, ErrStale) {
			break
		}
		// Lost a race: someone changed or deleted it since we read it.
		cur, err = h.store.Get(ctx, id)
		if err == nil && conditional {
			httpx.WriteProblem(w, r, stale(&cur))
			return
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteProblem(w, r, httpx.Conflict("the product is changing too often to apply the patch; retry"))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r)
	if !ok {
		httpx.WriteProblem(w, r, notFound(r))
		return
	}
	ctx := r.Context()
	var versions []int64
	if cond, conditional := ifMatch(r); conditional {
		cur, err := h.store.Get(ctx, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !etagMatches(cond, cur.ETag(), false) {
			httpx.WriteProblem(w, r, stale(&cur))
			return
		}
		versions = []int64{cur.Version}
	}
	err := h.store.Delete(ctx, id, versions)
	if errors.Is(err, ErrNotFound) && versions != nil {
		// Nothing deleted: gone (404), or changed since we read it (412).
		if cur, gerr := h.store.Get(ctx, id); gerr == nil {
			httpx.WriteProblem(w, r, stale(&cur))
			return
		} else if !errors.Is(gerr, ErrNotFound) {
			err = gerr
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	// A repeated parameter takes its last value; a value that is not UTF-8
	// or holds NUL is rejected before any parameter is looked at.
	q, p := httpx.ParseQuery(r.URL.RawQuery)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	var errs []httpx.FieldError
	bad := func(field, msg string) { errs = append(errs, httpx.FieldError{Field: field, Message: msg}) }

	limit := defaultLimit
	if v, ok := q["limit"]; ok {
		n, ok := parseCanonical(v)
		if !ok || n < 1 || n > maxLimit {
			bad("limit", "must be an integer from 1 to 100")
		} else {
			limit = int(n)
		}
	}
	sort := SortCreatedAt
	if v, ok := q["sort"]; ok {
		s, valid := parseSort(v)
		if !valid {
			bad("sort", "must be one of created_at, -created_at, price, -price, name")
		} else {
			sort = s
		}
	}
	var f Filter
	if v, ok := q["q"]; ok {
		if utf8.RuneCountInString(v) > maxQLen {
			bad("q", "must be at most 200 characters")
		} else {
			f.Q = foldLower(v)
		}
	}
	priceParam := func(name string) *int64 {
		v, ok := q[name]
		if !ok {
			return nil
		}
		n, ok := parseCanonical(v)
		if !ok || n > maxPriceMinor {
			bad(name, "must be an integer from 0 to 1000000000000")
			return nil
		}
		return &n
	}
	f.MinPrice = priceParam("min_price")
	f.MaxPrice = priceParam("max_price")
	if v, ok := q["in_stock"]; ok {
		switch v {
		case "true":
			f.InStock = true
		case "false":
		default:
			bad("in_stock", "must be true or false")
		}
	}
	var target currency.Currency
	if v, ok := q["currency"]; ok {
		var p *httpx.Problem
		if target, p = fx.ParseTarget(v, true); p != nil {
			errs = append(errs, fx.TargetError())
		}
	}
	var after *position
	if v, ok := q["cursor"]; ok {
		// Checked against the sort and filters as parsed (defaults where invalid).
		c, err := decodeCursor(v)
		if err == nil {
			var pos position
			if pos, err = c.position(sort, f); err == nil {
				after = &pos
			}
		}
		if err != nil {
			bad("cursor", "is not a cursor this query returned; start again without it")
		}
	}
	if len(errs) > 0 {
		httpx.WriteProblem(w, r, httpx.InvalidParameter(errs))
		return
	}
	if target != 0 && !h.fx.Enabled() {
		httpx.WriteProblem(w, r, fx.ErrDisabled().Problem())
		return
	}

	items, err := h.store.List(r.Context(), sort, f, after, limit+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var next *string
	if len(items) > limit {
		items = items[:limit]
		c := encodeCursor(sort, f, positionOf(sort, &items[limit-1]))
		next = &c
	}
	if target != 0 {
		h.writeConvertedList(w, r, items, next, target)
		return
	}
	writeList(w, r, items, next)
}

// writeList writes a page of products and the cursor of the next page (nil
// on the last page).
func writeList(w http.ResponseWriter, _ *http.Request, items []Product, next *string) {
	buf := httpx.GetBuffer()
	buf.B = appendPage(buf.B, items, next)
	buf.Write(w, http.StatusOK, "application/json")
}
