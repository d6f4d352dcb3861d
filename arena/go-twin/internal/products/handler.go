package products

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

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
	store        *Store
	maxBodyBytes int64
	log          *slog.Logger
}

func NewHandler(store *Store, maxBodyBytes int64, log *slog.Logger) *Handler {
	return &Handler{store: store, maxBodyBytes: maxBodyBytes, log: log}
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

func writeProduct(w http.ResponseWriter, status int, p *Product) {
	w.Header().Set("ETag", p.ETag())
	httpx.WriteJSON(w, status, p)
}

// fail maps an error to its problem response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var prob *httpx.Problem
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &prob):
	case errors.Is(err, ErrNotFound):
		prob = httpx.NotFound("product not found")
	case errors.Is(err, ErrDuplicateSKU):
		prob = httpx.Conflict("a product with this sku already exists")
	case httpx.TimedOut(r.Context()):
		prob = httpx.Timeout()
	case errors.As(err, &pgErr):
		if unavailableSQLState(pgErr.Code) {
			prob = httpx.Unavailable("the database is unavailable")
		} else {
			h.log.ErrorContext(r.Context(), "database error", "error", err, "request_id", httpx.RequestID(r.Context()))
			prob = httpx.Internal()
		}
	case isConnectivity(err), errors.Is(err, context.Canceled):
		prob = httpx.Unavailable("the database is unavailable")
	default:
		h.log.ErrorContext(r.Context(), "unexpected error", "error", err, "request_id", httpx.RequestID(r.Context()))
		prob = httpx.Unavailable("the database is unavailable")
	}
	httpx.WriteProblem(w, r, prob)
}

func unavailableSQLState(code string) bool {
	switch {
	case len(code) >= 2 && code[:2] == "08": // connection exception
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "53300", code == "40001", code == "40P01":
		return true
	}
	return false
}

func isConnectivity(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err)
}

func parseID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (h *Handler) readObject(w http.ResponseWriter, r *http.Request, mediaTypes ...string) ([]httpx.Member, *httpx.Problem) {
	if p := httpx.RequireContentType(r, mediaTypes...); p != nil {
		return nil, p
	}
	body, p := httpx.ReadBody(w, r, h.maxBodyBytes)
	if p != nil {
		return nil, p
	}
	return httpx.ParseObject(body)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	members, p := h.readObject(w, r, "application/json")
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	np, p := ParseCreate(members)
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
		httpx.WriteProblem(w, r, httpx.NotFound("product not found"))
		return
	}
	prod, err := h.store.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		for _, v := range inm {
			if etagMatches(v, prod.ETag(), true) {
				w.Header().Set("ETag", prod.ETag())
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

func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r)
	if !ok {
		httpx.WriteProblem(w, r, httpx.NotFound("product not found"))
		return
	}
	members, p := h.readObject(w, r, "application/merge-patch+json", "application/json")
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	patch, p := ParsePatch(members)
	if p != nil {
		httpx.WriteProblem(w, r, p)
		return
	}
	cond, conditional := ifMatch(r)
	// "*" matches any existing product, so it does not pin a version.
	pinned := conditional && !isWildcard(cond)
	ctx := r.Context()
	for attempt := 0; attempt < patchAttempts; attempt++ {
		cur, err := h.store.Get(ctx, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if pinned && !etagMatches(cond, cur.ETag(), false) {
			httpx.WriteProblem(w, r, httpx.PreconditionFailed())
			return
		}
		next := cur
		patch.Apply(&next)
		updated, err := h.store.Update(ctx, &next, cur.Version, Now())
		if err == nil {
			writeProduct(w, http.StatusOK, &updated)
			return
		}
		if !errors.Is(err, ErrStale) {
			h.fail(w, r, err)
			return
		}
		if pinned {
			// Someone else won the race: 412, or 404 if they deleted it.
			exists, err := h.store.Exists(ctx, id)
			switch {
			case err != nil:
				h.fail(w, r, err)
			case !exists:
				httpx.WriteProblem(w, r, httpx.NotFound("product not found"))
			default:
				httpx.WriteProblem(w, r, httpx.PreconditionFailed())
			}
			return
		}
		// Unconditional patch lost a race: re-read and re-apply.
	}
	httpx.WriteProblem(w, r, httpx.Unavailable("too much contention on this product; retry"))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r)
	if !ok {
		httpx.WriteProblem(w, r, httpx.NotFound("product not found"))
		return
	}
	ctx := r.Context()
	cond, conditional := ifMatch(r)
	var versions []int64
	if conditional && !isWildcard(cond) {
		versions = versionsFor(cond, id)
		if versions == nil {
			versions = []int64{} // no tag can match: delete nothing, then tell 412 from 404
		}
	}
	err := h.store.Delete(ctx, id, versions)
	if errors.Is(err, ErrNotFound) && versions != nil {
		exists, xerr := h.store.Exists(ctx, id)
		switch {
		case xerr != nil:
			err = xerr
		case exists:
			err = httpx.PreconditionFailed()
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var errs []httpx.FieldError
	bad := func(field, msg string) { errs = append(errs, httpx.FieldError{Field: field, Message: msg}) }

	limit := defaultLimit
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxLimit {
			bad("limit", "must be an integer between 1 and 100")
		} else {
			limit = n
		}
	}
	sort := SortCreatedAt
	if v, ok := q["sort"]; ok {
		s, valid := parseSort(v[0])
		if !valid {
			bad("sort", "must be one of created_at, -created_at, price, -price, name")
		} else {
			sort = s
		}
	}
	var f Filter
	if v, ok := q["q"]; ok {
		if utf8.RuneCountInString(v[0]) > maxQLen {
			bad("q", "must be at most 200 characters")
		} else {
			f.Q = foldLower(v[0])
		}
	}
	priceParam := func(name string) *int64 {
		v, ok := q[name]
		if !ok {
			return nil
		}
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || n < 0 || n > maxPriceMinor {
			bad(name, "must be an integer between 0 and 1000000000000")
			return nil
		}
		return &n
	}
	f.MinPrice = priceParam("min_price")
	f.MaxPrice = priceParam("max_price")
	if v, ok := q["in_stock"]; ok {
		switch v[0] {
		case "true":
			f.InStock = true
		case "false":
		default:
			bad("in_stock", "must be true or false")
		}
	}
	var after *position
	if v, ok := q["cursor"]; ok {
		c, err := decodeCursor(v[0])
		if err != nil {
			bad("cursor", err.Error())
		} else if len(errs) == 0 {
			pos, err := c.position(sort, f)
			if err != nil {
				bad("cursor", err.Error())
			} else {
				after = &pos
			}
		}
	}
	if len(errs) > 0 {
		httpx.WriteProblem(w, r, httpx.InvalidParameter(errs))
		return
	}

	items, err := h.store.List(r.Context(), sort, f, after, limit+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := listResponse{Items: items}
	if len(items) > limit {
		resp.Items = items[:limit]
		next := encodeCursor(sort, f, positionOf(sort, &resp.Items[limit-1]))
		resp.NextCursor = &next
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}
