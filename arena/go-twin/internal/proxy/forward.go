package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostMatches compares a request's Host (port ignored, any case, a
// trailing dot ignored) with a route's lower-case host.
func hostMatches(host, want string) bool {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.EqualFold(host, want)
}

// ownAuthority: an absolute-form target (GET http://x/ HTTP/1.1) must name
// this service. net/http has already replaced the request's Host with the
// target's authority (RFC 9112 §3.2.2) and dropped the Host header, so
// "this service" is a host the route is configured for, or the address the
// connection came in on (see arena/deviations.toml).
func ownAuthority(r *http.Request, rt *route) bool {
	if r.ProtoMajor != 1 || r.RequestURI == "" || r.RequestURI[0] == '/' || rt.cfg.Host != "" {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	la, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(r.URL.Host)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(r.URL.Host, "["), "]"), "80"
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap() == la.Addr().Unmap() && port == fmt.Sprint(la.Port())
}

// via is this proxy's Via entry (RFC 9110 §7.6.3).
const via = "1.1 overkill"

// appendVia appends this hop to Via, on requests and responses.
func appendVia(h http.Header) {
	if prior := h["Via"]; len(prior) > 0 {
		h["Via"] = []string{strings.Join(prior, ", ") + ", " + via}
		return
	}
	h["Via"] = []string{via}
}

// appendForwarded appends for=<client>;host=<host>;proto=http to Forwarded
// (RFC 7239; an IPv6 address quoted and bracketed, a value that is not a
// token quoted).
func appendForwarded(h http.Header, in *http.Request) {
	client, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		client = "unknown"
	}
	var b strings.Builder
	b.WriteString("for=")
	if strings.Contains(client, ":") {
		b.WriteString(`"[` + client + `]"`)
	} else {
		b.WriteString(client)
	}
	b.WriteString(";host=")
	writeForwardedValue(&b, in.Host)
	b.WriteString(";proto=http")
	if prior := in.Header["Forwarded"]; len(prior) > 0 {
		h["Forwarded"] = []string{strings.Join(prior, ", ") + ", " + b.String()}
		return
	}
	h["Forwarded"] = []string{b.String()}
}

func writeForwardedValue(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isToken: RFC 9110 tchar+.
func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
