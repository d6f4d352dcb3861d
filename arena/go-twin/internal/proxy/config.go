package proxy

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

// Balancer is how a route chooses among its healthy upstreams.
type Balancer uint8

const (
	RoundRobin    Balancer = iota // in turn
	LeastRequests                 // the fewest requests in flight
	P2C                           // two drawn at random, the one with fewer in flight
)

var balancers = map[string]Balancer{"round_robin": RoundRobin, "least_requests": LeastRequests, "p2c": P2C}

// RouteConfig is one validated [[proxy.routes]] entry (docs/design/proxy.md,
// "Configuration": names, defaults and bounds).
type RouteConfig struct {
	Index           int    // its position in the file: proxy.routes[Index]
	Prefix          string // a clean path starting with "/"
	Host            string // lower-case host name or IP; "" matches any Host
	Upstreams       []Upstream
	StripPrefix     bool
	PreserveHost    bool
	LB              Balancer
	ConnectTimeout  time.Duration
	ResponseTimeout time.Duration // request head sent → response head
	IdleTimeout     time.Duration // longest gap between body bytes
	MaxBodyBytes    int64
	Retries         int
	Health          *HealthConfig // nil: no active checks
}

// Upstream is one member of a pool.
type Upstream struct {
	Addr   string // as configured: the metrics label and log field
	Target string // host:port, dialed and sent as Host
}

// HealthConfig is a route's [proxy.routes.health] table.
type HealthConfig struct {
	Path               string // "": no active checks (the thresholds still apply)
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// ConfigError names the offending key, proxy.routes[i].key.
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return "invalid configuration: " + e.Key + ": " + e.Reason }

// reservedPrefixes are the service's own routes, never proxied: the whole
// /v1/ namespace and /openapi.json (the Rust service's router).
var reservedPrefixes = []struct {
	path   string
	family bool // every path under it is the service's
}{{"/v1/", true}, {"/openapi.json", false}}

const (
	maxPrefixBytes = 256
	maxHostBytes   = 253
	maxUpstreams   = 64 // the tried set of one request is a uint64 bitmask
	maxBodyLimit   = 1 << 40
	defaultBody    = 1 << 30
)

// Load reads the [[proxy.routes]] of the TOML settings file at path (""
// means none). Every other top-level key is the Rust service's and ignored
// here; unknown keys in [proxy] or in a route are errors.
func Load(path string) ([]RouteConfig, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Key: "OVERKILL_CONFIG", Reason: "cannot read " + strconv.Quote(path) + ": " + err.Error()}
	}
	return Parse(data)
}

// Parse reads and validates the [[proxy.routes]] in a TOML document.
func Parse(data []byte) ([]RouteConfig, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, &ConfigError{Key: "OVERKILL_CONFIG", Reason: "not valid TOML: " + oneLine(err.Error())}
	}
	raw, ok := doc["proxy"]
	if !ok {
		return nil, nil
	}
	section, ok := raw.(map[string]any)
	if !ok {
		return nil, &ConfigError{Key: "proxy", Reason: "`proxy` is a section, not a value"}
	}
	if k := firstUnknown(section, "routes"); k != "" {
		return nil, &ConfigError{Key: "proxy." + k, Reason: "unknown setting `proxy." + k + "`"}
	}
	entries, err := tables(section["routes"])
	if err != nil {
		return nil, err
	}
	routes := make([]RouteConfig, 0, len(entries))
	for i, e := range entries {
		rc, err := parseRoute(i, e)
		if err != nil {
			return nil, err
		}
		routes = append(routes, rc)
	}
	for i := range routes {
		for j := range i {
			if routes[i].Host == routes[j].Host && routes[i].Prefix == routes[j].Prefix {
				return nil, &ConfigError{Key: key(i, "prefix"),
					Reason: fmt.Sprintf("same host and prefix as proxy.routes[%d]", j)}
			}
		}
	}
	return routes, nil
}

// tables accepts an array of tables ([[proxy.routes]], or an inline array of
// inline tables).
func tables(v any) ([]map[string]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		return t, nil
	case []any:
		out := make([]map[string]any, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, &ConfigError{Key: "proxy.routes", Reason: "must be an array of tables ([[proxy.routes]])"}
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, &ConfigError{Key: "proxy.routes", Reason: "must be an array of tables ([[proxy.routes]])"}
}

var routeKeys = []string{"prefix", "host", "upstreams", "strip_prefix", "preserve_host", "lb",
	"connect_timeout_ms", "response_timeout_ms", "idle_timeout_ms", "max_body_bytes", "retries", "health"}

var healthKeys = []string{"path", "interval_ms", "timeout_ms", "healthy_threshold", "unhealthy_threshold"}

func key(i int, k string) string { return fmt.Sprintf("proxy.routes[%d].%s", i, k) }

func parseRoute(i int, m map[string]any) (RouteConfig, error) {
	if k := firstUnknown(m, routeKeys...); k != "" {
		return RouteConfig{}, &ConfigError{Key: key(i, k), Reason: "unknown setting `" + key(i, k) + "`"}
	}
	f := fields{m: m, at: func(k string) string { return key(i, k) }}
	rc := RouteConfig{Index: i}
	rc.Prefix = f.str("prefix", true)
	rc.Host = f.str("host", false)
	ups := f.strs("upstreams")
	rc.StripPrefix = f.boolean("strip_prefix")
	rc.PreserveHost = f.boolean("preserve_host")
	lb := f.str("lb", false)
	rc.ConnectTimeout = f.ms("connect_timeout_ms", 1000, 60_000)
	rc.ResponseTimeout = f.ms("response_timeout_ms", 30_000, 3_600_000)
	rc.IdleTimeout = f.ms("idle_timeout_ms", 60_000, 3_600_000)
	rc.MaxBodyBytes = f.integer("max_body_bytes", defaultBody, 0, maxBodyLimit)
	rc.Retries = int(f.integer("retries", 1, 0, 5))
	if f.err != nil {
		return rc, f.err
	}
	if reason := checkPrefix(rc.Prefix); reason != "" {
		return rc, &ConfigError{Key: key(i, "prefix"), Reason: reason}
	}
	if rc.Host != "" {
		h, reason := checkHost(rc.Host)
		if reason != "" {
			return rc, &ConfigError{Key: key(i, "host"), Reason: fmt.Sprintf("%q %s", rc.Host, reason)}
		}
		rc.Host = h
	}
	var err error
	if rc.Upstreams, err = parseUpstreams(i, ups); err != nil {
		return rc, err
	}
	rc.LB = RoundRobin
	if lb != "" {
		b, ok := balancers[lb]
		if !ok {
			return rc, &ConfigError{Key: key(i, "lb"), Reason: fmt.Sprintf("%q is not one of round_robin, least_requests, p2c", lb)}
		}
		rc.LB = b
	}
	rc.Health, err = parseHealth(i, m["health"])
	return rc, err
}

func parseUpstreams(i int, ups []string) ([]Upstream, error) {
	if len(ups) < 1 || len(ups) > maxUpstreams {
		return nil, &ConfigError{Key: key(i, "upstreams"), Reason: fmt.Sprintf("must list 1 to %d upstreams", maxUpstreams)}
	}
	out := make([]Upstream, 0, len(ups))
	for n, u := range ups {
		target, reason := parseUpstream(u)
		if reason != "" {
			return nil, &ConfigError{Key: fmt.Sprintf("%s[%d]", key(i, "upstreams"), n), Reason: fmt.Sprintf("%q %s", u, reason)}
		}
		for _, prev := range out {
			if prev.Target == target {
				return nil, &ConfigError{Key: fmt.Sprintf("%s[%d]", key(i, "upstreams"), n),
					Reason: fmt.Sprintf("%q is listed twice", u)}
			}
		}
		out = append(out, Upstream{Addr: u, Target: target})
	}
	return out, nil
}

func parseHealth(i int, v any) (*HealthConfig, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ConfigError{Key: key(i, "health"), Reason: "must be a table ([proxy.routes.health])"}
	}
	at := func(k string) string { return key(i, "health."+k) }
	if k := firstUnknown(m, healthKeys...); k != "" {
		return nil, &ConfigError{Key: at(k), Reason: "unknown setting `" + at(k) + "`"}
	}
	f := fields{m: m, at: at}
	h := &HealthConfig{
		Path:               f.str("path", false),
		Interval:           f.msIn("interval_ms", 2000, 100, 3_600_000),
		Timeout:            f.ms("timeout_ms", 1000, 60_000),
		HealthyThreshold:   int(f.integer("healthy_threshold", 2, 1, 100)),
		UnhealthyThreshold: int(f.integer("unhealthy_threshold", 3, 1, 100)),
	}
	if f.err != nil {
		return nil, f.err
	}
	if _, set := m["path"]; set {
		if reason := checkHealthPath(h.Path); reason != "" {
			return nil, &ConfigError{Key: at("path"), Reason: reason}
		}
	}
	return h, nil
}
