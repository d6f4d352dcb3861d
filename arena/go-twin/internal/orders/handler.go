package orders

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// Handler serves the /v1/orders routes.
type Handler struct {
	store *Store
	body  httpx.BodyLimits
	log   *slog.Logger
}

func NewHandler(store *Store, body httpx.BodyLimits, log *slog.Logger) *Handler {
	return &Handler{store: store, body: body, log: log}
}

// Register adds the order routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/orders", h.list)
	mux.HandleFunc("POST /v1/orders", h.create)
	mux.HandleFunc("GET /v1/orders/{id}", h.get)
	mux.HandleFunc("POST /v1/orders/{id}/cancel", h.cancel)
}

// create places an order. Order of checks: the Idempotency-Key's form
// (400), media type (415), size (413), JSON shape (400/422), all before
// the key is looked at and never stored; then the key (replay, 422
// reused, 409 in flight) and the order's transaction.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	key, keyed, p := ParseKey(r.Header)
	if p == nil {
		p = httpx.RequireContentType(r, "application/json")
	}
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	body, p := httpx.ReadBody(w, r, h.body)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	no, p := ParseCreate(body)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	h.run(w, r, key, keyed, body, func(ctx context.Context, finish finishFunc) error {
		return h.store.Place(ctx, &no, products.Now(), finish)
	})
}

// cancel cancels an order. The body is read (413 over the limit) and
// ignored, but it is part of the request's fingerprint.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	key, keyed, p := ParseKey(r.Header)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	body, p := httpx.ReadBody(w, r, h.body)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	id, ok := products.ParseCanonicalID(r.PathValue("id"))
	if !ok {
		httpx.WriteProblem(w, r, httpx.NotFound("there is no order with id "+r.PathValue("id")))
		return
	}
	cond, conditional := products.IfMatch(r)
	h.run(w, r, key, keyed, body, func(ctx context.Context, finish finishFunc) error {
		return h.store.Cancel(ctx, id, cond, conditional, products.Now(), finish)
	})
}

// run executes a write whose answer is decided in its transaction. With a
// key it first claims the key (or replays its answer, or refuses), and the
// transaction records the answer under the key before committing; a 5xx
// releases the claim so that a retry runs again.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, key string, keyed bool, body []byte,
	op func(context.Context, finishFunc) error) {
	ctx := r.Context()
	var c *claim
	if keyed {
		out, err := h.store.Claim(ctx, key, fingerprint(r.Method, r.URL.Path, body))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		switch out.kind {
		case replay:
			out.resp.write(w, true)
			return
		case reused:
			httpx.WriteProblem(w, r, keyReused())
			return
		case inFlight:
			httpx.RetryAfterOne(w.Header())
			httpx.WriteProblem(w, r, keyInFlight())
			return
		}
		c = &out.claim
	}
	var resp Response
	requestID := httpx.RequestID(ctx)
	finish := func(ctx context.Context, tx pgx.Tx, out outcome) error {
		if out.problem != nil {
			problemResponse(&resp, out.problem, r.URL.Path, requestID)
		} else {
			orderResponse(&resp, out.status, out.order)
		}
		if c == nil {
			return nil
		}
		return h.store.complete(ctx, tx, c, &resp)
	}
	if err := op(ctx, finish); err != nil {
		if c != nil {
			if rerr := h.store.Release(ctx, c); rerr != nil {
				h.log.WarnContext(ctx, "cannot release idempotency key", "error", rerr, "request_id", requestID)
			}
		}
		h.fail(w, r, err)
		return
	}
	resp.write(w, false)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := products.ParseCanonicalID(r.PathValue("id"))
	if !ok {
		httpx.WriteProblem(w, r, httpx.NotFound("there is no order with id "+r.PathValue("id")))
		return
	}
	o, err := h.store.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, v := range r.Header.Values("If-None-Match") {
		if products.ETagMatches(v, o.ETag(), true) {
			products.SetETag(w, o.ETag())
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	var resp Response
	orderResponse(&resp, http.StatusOK, o)
	resp.write(w, false)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q, p := httpx.ParseQuery(r.URL.RawQuery)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	var errs []httpx.FieldError
	bad := func(field, msg string) { errs = append(errs, httpx.FieldError{Field: field, Message: msg}) }
	limit := defaultLimit
	if v, ok := q["limit"]; ok {
		if n, ok := products.ParseCanonical(v); !ok || n < 1 || n > maxLimit {
			bad("limit", "must be an integer from 1 to 100")
		} else {
			limit = int(n)
		}
	}
	desc := true
	if v, ok := q["sort"]; ok {
		switch v {
		case "-created_at":
		case "created_at":
			desc = false
		default:
			bad("sort", "must be -created_at or created_at")
		}
	}
	var f Filter
	if v, ok := q["status"]; ok {
		if v != StatusPlaced && v != StatusCancelled {
			bad("status", "must be placed or cancelled")
		} else {
			f.Status = v
		}
	}
	if v, ok := q["customer_ref"]; ok {
		if !validCustomerRef(v) {
			bad("customer_ref", msgCustomerRef)
		} else {
			f.CustomerRef = v
		}
	}
	var after *position
	if v, ok := q["cursor"]; ok {
		// Checked against the sort and filters as parsed (defaults where invalid).
		if pos, err := decodeCursor(v, desc, f); err != nil {
			bad("cursor", "is not a cursor this query returned; start again without it")
		} else {
			after = &pos
		}
	}
	if len(errs) > 0 {
		httpx.WriteProblem(w, r, httpx.InvalidParameter(errs))
		return
	}
	items, err := h.store.List(r.Context(), desc, f, after, limit+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var next *string
	if len(items) > limit {
		items = items[:limit]
		last := &items[limit-1]
		c := encodeCursor(desc, f, position{CreatedAt: time.Time(last.CreatedAt).UnixMicro(), ID: last.ID})
		next = &c
	}
	buf := httpx.GetBuffer()
	buf.B = appendPage(buf.B, items, next)
	buf.Write(w, http.StatusOK, "application/json")
}

// fail maps an error to its problem response, as products does.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var prob *httpx.Problem
	switch {
	case errors.Is(err, ErrNotFound):
		prob = httpx.NotFound("there is no order with id " + r.PathValue("id"))
	case errors.Is(err, errClaimLost):
		httpx.RetryAfterOne(w.Header())
		prob = keyInFlight()
	case httpx.TimedOut(r.Context()):
		prob = httpx.Timeout(httpx.RequestTimeoutOf(r.Context()))
	case products.Unavailable(err), errors.Is(err, context.Canceled):
		prob = httpx.Unavailable("the database is unavailable; retry shortly")
	default:
		// A bug, not an outage: a 500, logged once here with its cause.
		h.log.ErrorContext(r.Context(), "database error", "error", err, "request_id", httpx.RequestID(r.Context()))
		prob = httpx.Internal()
	}
	httpx.WriteProblem(w, r, prob)
}
