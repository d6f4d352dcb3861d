package orders

import (
	"sort"
	"strconv"

	"overkill/arena/go-twin/internal/httpx"
)

// maxStock is a product's largest stock; a cancel may not push past it.
const maxStock = 1_000_000_000

// StockRow is a product row as the order transaction locked it.
type StockRow struct {
	ID         int64
	SKU        string
	Name       string
	PriceMinor int64
	Currency   string
	Stock      int64
}

// ShortLine is a line asking for more than its product has.
type ShortLine struct {
	ProductID int64
	Requested int64
	Available int64
}

// reserve decides an order against its locked product rows (sorted by id):
// the order's lines (snapshots), total and currency, or the problem that
// refuses it, checked in the contract's order: every product exists (422),
// one currency (422), total ≤ 2^53 − 1 (422), then stock (409
// insufficient-stock listing every short line in request order). Pure: the
// caller writes the decrements (each line's quantity) when it succeeds.
func reserve(req []LineRequest, rows []StockRow) (lines []Line, total int64, currency string, prob *httpx.Problem) {
	var c collector
	found := make([]*StockRow, len(req))
	for i, l := range req {
		if found[i] = findRow(rows, l.ProductID); found[i] == nil {
			c.add(linePath(i)+".product_id", "no such product")
		}
	}
	if p := c.problem(); p != nil {
		return nil, 0, "", p
	}
	currency = found[0].Currency
	for i := 1; i < len(req); i++ {
		if cur := found[i].Currency; cur != currency {
			c.add(linePath(i)+".product_id", "is priced in "+cur+", lines[0] in "+currency)
		}
	}
	if p := c.problem(); p != nil {
		return nil, 0, "", p
	}
	for i, l := range req {
		total += found[i].PriceMinor * l.Quantity // ≤ 50 × 10^12 × 1000: no overflow
	}
	if total > maxTotalMinor {
		c.add("lines", "the order's total would exceed 9007199254740991 minor units")
		return nil, 0, "", c.problem()
	}
	var short []ShortLine
	for i, l := range req {
		if found[i].Stock < l.Quantity {
			short = append(short, ShortLine{ProductID: l.ProductID, Requested: l.Quantity, Available: found[i].Stock})
		}
	}
	if short != nil {
		return nil, 0, "", insufficientStock(short)
	}
	lines = make([]Line, len(req))
	for i, l := range req {
		r := found[i]
		lines[i] = Line{ProductID: r.ID, SKU: r.SKU, Name: r.Name, UnitPriceMinor: r.PriceMinor, Quantity: l.Quantity}
	}
	return lines, total, currency, nil
}

// restock checks that adding each line's quantity back keeps every (still
// existing) product within maxStock, else the 409 conflict; rows are the
// locked products, sorted by id; a product deleted since is skipped.
func restock(lines []Line, rows []StockRow) *httpx.Problem {
	for i := range lines {
		l := &lines[i]
		if r := findRow(rows, l.ProductID); r != nil && r.Stock+l.Quantity > maxStock {
			return httpx.Conflict("returning " + strconv.FormatInt(l.Quantity, 10) + " units to product " +
				strconv.FormatInt(r.ID, 10) + " would take its stock past 1000000000; lower its stock first")
		}
	}
	return nil
}

func findRow(rows []StockRow, id int64) *StockRow {
	i := sort.Search(len(rows), func(i int) bool { return rows[i].ID >= id })
	if i < len(rows) && rows[i].ID == id {
		return &rows[i]
	}
	return nil
}

func insufficientStock(short []ShortLine) *httpx.Problem {
	ext := append(make([]byte, 0, 16+len(short)*64), `"short_lines":[`...)
	for i, s := range short {
		if i > 0 {
			ext = append(ext, ',')
		}
		ext = append(ext, `{"product_id":`...)
		ext = strconv.AppendInt(ext, s.ProductID, 10)
		ext = append(ext, `,"requested":`...)
		ext = strconv.AppendInt(ext, s.Requested, 10)
		ext = append(ext, `,"available":`...)
		ext = strconv.AppendInt(ext, s.Available, 10)
		ext = append(ext, '}')
	}
	ext = append(ext, ']')
	detail := "one line asks for more than is in stock"
	if len(short) > 1 {
		detail = strconv.Itoa(len(short)) + " lines ask for more than is in stock"
	}
	return &httpx.Problem{Slug: "insufficient-stock", Title: "Insufficient stock", Status: 409, Detail: detail, Ext: ext}
}
