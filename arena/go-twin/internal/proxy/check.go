package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fields reads typed values from one TOML table, keeping the first error.
type fields struct {
	m   map[string]any
	at  func(k string) string
	err error
}

func (f *fields) fail(k, reason string) {
	if f.err == nil {
		f.err = &ConfigError{Key: f.at(k), Reason: reason}
	}
}

func (f *fields) str(k string, required bool) string {
	v, ok := f.m[k]
	if !ok {
		if required {
			f.fail(k, "is required")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.fail(k, "must be a string")
	}
	return s
}

func (f *fields) strs(k string) []string {
	v, ok := f.m[k]
	if !ok {
		f.fail(k, "is required")
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		f.fail(k, "must be an array of strings")
		return nil
	}
	out := make([]string, len(list))
	for n, e := range list {
		if out[n], ok = e.(string); !ok {
			f.fail(k, "must be an array of strings")
			return nil
		}
	}
	return out
}

func (f *fields) boolean(k string) bool {
	v, ok := f.m[k]
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		f.fail(k, "must be true or false")
	}
	return b
}

func (f *fields) integer(k string, def, lo, hi int64) int64 {
	v, ok := f.m[k]
	if !ok {
		return def
	}
	n, ok := v.(int64)
	if !ok || n < lo || n > hi {
		f.fail(k, fmt.Sprintf("must be an integer between %d and %d", lo, hi))
		return def
	}
	return n
}

func (f *fields) ms(k string, def, hi int64) time.Duration { return f.msIn(k, def, 1, hi) }

func (f *fields) msIn(k string, def, lo, hi int64) time.Duration {
	return time.Duration(f.integer(k, def, lo, hi)) * time.Millisecond
}

// firstUnknown is the first key of m (in sorted order, so the message is
// stable) that is not in known.
func firstUnknown(m map[string]any, known ...string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, kk := range known {
			found = found || k == kk
		}
		if !found {
			return k
		}
	}
	return ""
}

// checkPrefix states the prefix rules: a clean absolute path (no "." or ".."
// segment, no "//": the router answers 404 to any other path, so such a
// route could never match), at most 256 bytes, no ?, #, %, NUL or other
// control bytes, and none of the service's own routes under it.
func checkPrefix(p string) string {
	switch {
	case p == "" || p[0] != '/':
		return fmt.Sprintf("%q must start with /", p)
	case len(p) > maxPrefixBytes:
		return fmt.Sprintf("must be at most %d bytes", maxPrefixBytes)
	case strings.ContainsAny(p, "?#%"):
		return fmt.Sprintf("%q must not contain ?, # or %%", p)
	case hasControl(p):
		return fmt.Sprintf("%q must not contain NUL or other control characters", p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == ".." || seg == "." {
			return fmt.Sprintf("%q must not contain a %q segment", p, seg)
		}
	}
	if strings.Contains(p, "//") {
		return fmt.Sprintf("%q must not contain an empty segment (//)", p)
	}
	for _, r := range reservedPrefixes {
		if strings.HasPrefix(r.path, p) || r.family && strings.HasPrefix(p, r.path) {
			shadowed := r.path
			if r.family {
				shadowed += "…"
			}
			return fmt.Sprintf("%q would shadow the service's own route %s", p, shadowed)
		}
	}
	return ""
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkHost accepts a host name (LDH labels, "_" allowed) or an IP address
// (IPv6 with or without brackets), without a port; it returns it lower-cased
// (IPv6 without brackets, as a request's Host is compared).
func checkHost(h string) (string, string) {
	if len(h) > maxHostBytes {
		return "", fmt.Sprintf("must be at most %d bytes", maxHostBytes)
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(bare); err == nil && a.Zone() == "" && (bare == h || a.Is6()) {
		return a.String(), ""
	}
	if bare != h || !validName(h) {
		return "", "must be a host name or IP address without a port"
	}
	return strings.ToLower(h), ""
}

func validName(h string) bool {
	if h == "" {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return false
			}
		}
	}
	return true
}

// parseUpstream accepts host:port or http://host:port (a lone trailing "/"
// allowed), and returns host:port.
func parseUpstream(u string) (string, string) {
	rest := u
	if scheme, after, ok := strings.Cut(u, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http":
		case "https":
			return "", "uses https://, which is not supported yet"
		default:
			return "", "must be host:port or http://host:port"
		}
		rest = strings.TrimSuffix(after, "/")
	}
	if strings.ContainsAny(rest, "/?#@ ") || hasControl(rest) {
		return "", "must be host:port or http://host:port, without a path, query or user info"
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" {
		return "", "must be host:port or http://host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return "", "must have a port between 1 and 65535"
	}
	if _, reason := checkHost(host); reason != "" {
		return "", "must name a host name or IP address and a port"
	}
	return net.JoinHostPort(strings.ToLower(host), port), ""
}

func checkHealthPath(p string) string {
	switch {
	case p == "" || p[0] != '/':
		return fmt.Sprintf("%q must start with /", p)
	case len(p) > 2048:
		return "must be at most 2048 bytes"
	case strings.ContainsAny(p, "# ") || hasControl(p):
		return fmt.Sprintf("%q must not contain #, spaces or control characters", p)
	}
	return ""
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
