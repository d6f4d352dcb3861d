package products

import (
	"encoding/json"
	"net/http"

	"overkill/arena/go-twin/internal/currency"
)

// The helpers below are the one rule for ids, integers, strings, ETags and
// database errors that the orders resource shares with products.

// ParseCanonicalID accepts only the canonical decimal form of a positive
// int64 (no sign, no leading zero, no overflow); anything else names no
// resource (404).
func ParseCanonicalID(s string) (int64, bool) { return parseCanonicalID(s) }

// ParseCanonical accepts the canonical decimal form of a non-negative int64.
func ParseCanonical(s string) (int64, bool) { return parseCanonical(s) }

// CheckInt accepts a JSON number whose value is a whole number in 0..=max,
// however it is spelled (see checkInt).
func CheckInt(raw json.RawMessage, max int64) (int64, bool) { return checkInt(raw, max) }

// AsString decodes a JSON string member (false for any other JSON type).
func AsString(raw json.RawMessage) (string, bool) { return asString(raw) }

// IsNull reports a JSON null.
func IsNull(raw json.RawMessage) bool { return isNull(raw) }

// ETagMatches evaluates an If-Match (weak = false) or If-None-Match (weak =
// true) header value against etag.
func ETagMatches(header, etag string, weak bool) bool { return etagMatches(header, etag, weak) }

// SetETag sets the ETag header under its conventional spelling.
func SetETag(w http.ResponseWriter, tag string) { setETag(w, tag) }

// IfMatch returns the joined If-Match header and whether it was sent.
func IfMatch(r *http.Request) (string, bool) { return ifMatch(r) }

// Unavailable reports whether err means the database cannot serve the
// statement now (503) rather than that the statement is wrong (500).
func Unavailable(err error) bool { return unavailable(err) }

// UnavailableSQLState is Unavailable for a bare SQLSTATE.
func UnavailableSQLState(code string) bool { return unavailableSQLState(code) }

// ValidCurrency reports a current ISO 4217 code.
func ValidCurrency(code string) bool { return currency.Valid(code) }
