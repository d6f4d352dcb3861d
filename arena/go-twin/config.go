package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/proxy"
)

// exitConfig is the exit status for invalid configuration (EX_USAGE).
const exitConfig = 64

// Config is the service configuration, read from the environment.
type Config struct {
	Listen                  string
	AdminListen             string
	DatabaseURL             string
	DBPoolSize              int32
	RequestTimeout          time.Duration
	HeaderReadTimeout       time.Duration // from accept to a complete first request head
	BodyReadTimeout         time.Duration // from the first body read to its last byte; then 408
	IdleTimeout             time.Duration // keep-alive (HTTP/1.1) and idle HTTP/2 connections
	MaxBodyBytes            int64
	MaxConnections          int
	MaxConcurrentRequests   int
	MaxStreamsPerConnection int           // HTTP/2 and HTTP/3 streams open at once on one connection
	DrainGrace              time.Duration // after SIGTERM: keep serving, readiness off; may be 0
	ShutdownTimeout         time.Duration // after the grace: in-flight requests finish, then force-close
	LogLevel                slog.Level
	LogOff                  bool
	BallastMB               int           // benchmark only: MiB of live heap to hold
	IdempotencyTTL          time.Duration // how long an Idempotency-Key and its answer are kept
	FX                      fx.Settings   // FX.URL "": conversion off
	ConfigFile              string        // the TOML settings file; only [[proxy.routes]] is read from it
	Proxy                   []proxy.RouteConfig
	TLS                     TLSConfig // TLS.CertFile "": cleartext only
}

type configError struct{ name, value, reason string }

func (e *configError) Error() string {
	if e.name == "DATABASE_URL" { // never echoed: it may hold a password
		return fmt.Sprintf("invalid configuration: %s: %s", e.name, e.reason)
	}
	return fmt.Sprintf("invalid configuration: %s=%q: %s", e.name, e.value, e.reason)
}

// loadConfig reads the configuration through getenv; an empty variable counts
// as unset. The error names the offending variable.
func loadConfig(getenv func(string) string) (*Config, error) {
	return loadConfigEnv(func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	})
}

// loadConfigEnv reads the configuration through lookupEnv (os.LookupEnv);
// an empty variable counts as unset, except OVERKILL_FX_URL, where empty
// means off. The error names the offending variable.
func loadConfigEnv(lookupEnv func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	var err error
	get := func(name, def string) string {
		if v, _ := lookupEnv(name); strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	addr := func(name, def string) string {
		v := get(name, def)
		if err == nil {
			if e := checkAddr(v); e != "" {
				err = &configError{name, v, e}
			}
		}
		return v
	}
	integer := func(name, def string, min, max int64) int64 {
		v := get(name, def)
		n, perr := strconv.ParseInt(v, 10, 64)
		if err == nil && (perr != nil || n < min || n > max) {
			err = &configError{name, v, fmt.Sprintf("must be an integer between %d and %d", min, max)}
		}
		return n
	}
	ms := func(name, def string) time.Duration {
		return time.Duration(integer(name, def, 1, maxDurationMS)) * time.Millisecond
	}
	msOrZero := func(name, def string) time.Duration {
		return time.Duration(integer(name, def, 0, maxDurationMS)) * time.Millisecond
	}

	c.Listen = addr("OVERKILL_LISTEN", "0.0.0.0:8080")
	c.AdminListen = addr("OVERKILL_ADMIN_LISTEN", "0.0.0.0:9090")
	c.DatabaseURL = get("DATABASE_URL", "")
	if err == nil {
		switch {
		case c.DatabaseURL == "":
			err = &configError{"DATABASE_URL", "", "is required (postgres://user:pass@host:port/db)"}
		case !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"):
			err = &configError{"DATABASE_URL", "", "must be a postgres:// or postgresql:// URL (this service supports PostgreSQL only)"}
		default:
			if _, perr := pgxpool.ParseConfig(c.DatabaseURL); perr != nil {
				err = &configError{"DATABASE_URL", "", "is not a valid postgres:// URL (value not shown: it may hold a password)"}
			}
		}
	}
	c.DBPoolSize = int32(integer("OVERKILL_DB_POOL_SIZE", "16", 1, 1024))
	c.RequestTimeout = ms("OVERKILL_REQUEST_TIMEOUT_MS", "30000")
	c.HeaderReadTimeout = ms("OVERKILL_HEADER_READ_TIMEOUT_MS", "10000")
	c.BodyReadTimeout = ms("OVERKILL_BODY_READ_TIMEOUT_MS", "10000")
	c.IdleTimeout = ms("OVERKILL_IDLE_TIMEOUT_MS", "60000")
	c.MaxBodyBytes = integer("OVERKILL_MAX_BODY_BYTES", "1048576", 1, 1<<30)
	c.MaxConnections = int(integer("OVERKILL_MAX_CONNECTIONS", "1024", 1, 1_000_000))
	c.MaxConcurrentRequests = int(integer("OVERKILL_MAX_CONCURRENT_REQUESTS", "512", 1, 1_000_000))
	c.MaxStreamsPerConnection = int(integer("OVERKILL_MAX_STREAMS_PER_CONNECTION", "100", 1, 10_000))
	c.DrainGrace = msOrZero("OVERKILL_DRAIN_GRACE_MS", "5000")
	c.ShutdownTimeout = ms("OVERKILL_SHUTDOWN_TIMEOUT_MS", "10000")
	c.BallastMB = int(integer("OVERKILL_BALLAST_MB", "0", 0, 64*1024))
	c.IdempotencyTTL = time.Duration(integer("OVERKILL_IDEMPOTENCY_TTL_SECS", "86400", 60, maxIdempotencyTTLSecs)) * time.Second
	c.FX = loadFX(lookupEnv, get, integer, &err)
	c.TLS = loadTLS(get, integer, &err)
	lvl := get("OVERKILL_LOG_LEVEL", "info")
	if level, off, ok := parseLogLevel(lvl); ok {
		c.LogLevel, c.LogOff = level, off
	} else if err == nil {
		err = &configError{"OVERKILL_LOG_LEVEL", lvl, "must be a log filter such as info or overkill=debug,warn"}
	}
	// The settings file is the Rust service's; the twin reads its
	// [[proxy.routes]] only, checked whole before any port is bound.
	c.ConfigFile = get("OVERKILL_CONFIG", "")
	if err == nil {
		c.Proxy, err = proxy.Load(c.ConfigFile) // the error names proxy.routes[i].key
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loadFX reads the [fx] settings: the Rust service's names, defaults and
// bounds (docs/design/fx.md, "Configuration"). The first error is kept in *err.
func loadFX(lookupEnv func(string) (string, bool), get func(name, def string) string,
	integer func(name, def string, min, max int64) int64, err *error) fx.Settings {
	var s fx.Settings
	const urlVar = "OVERKILL_FX_URL"
	url := "https://api.frankfurter.dev"
	if v, set := lookupEnv(urlVar); set { // set but empty: off
		url = strings.TrimSpace(v)
	}
	if u, reason := checkFXURL(url); reason != "" {
		if *err == nil {
			*err = &configError{urlVar, url, reason}
		}
	} else {
		s.URL = u
	}
	ms := func(name, def string) time.Duration {
		return time.Duration(integer(name, def, 1, 60_000)) * time.Millisecond
	}
	secs := func(name, def string, min, max int64) time.Duration {
		return time.Duration(integer(name, def, min, max)) * time.Second
	}
	decimal := func(name, def string, min, max float64) float64 {
		v := get(name, def)
		n, perr := strconv.ParseFloat(v, 64)
		plain := strings.Trim(v, "0123456789.") == ""
		if *err == nil && (perr != nil || !plain || n < min || n > max) {
			*err = &configError{name, v, fmt.Sprintf("must be a decimal number between %g and %g", min, max)}
		}
		return n
	}
	s.ConnectTimeout = ms("OVERKILL_FX_CONNECT_TIMEOUT_MS", "1000")
	s.AttemptTimeout = ms("OVERKILL_FX_ATTEMPT_TIMEOUT_MS", "2000")
	s.Deadline = ms("OVERKILL_FX_DEADLINE_MS", "3000")
	s.QuotaPerSecond = decimal("OVERKILL_FX_QUOTA_PER_SECOND", "5", 0.001, 100_000)
	s.QuotaBurst = int(integer("OVERKILL_FX_QUOTA_BURST", "10", 1, 100_000))
	s.MaxInFlight = int(integer("OVERKILL_FX_MAX_IN_FLIGHT", "16", 1, 1024))
	s.MaxAttempts = int(integer("OVERKILL_FX_MAX_ATTEMPTS", "3", 1, 10))
	s.RetryBudgetRatio = decimal("OVERKILL_FX_RETRY_BUDGET_RATIO", "0.2", 0, 1)
	s.BreakerFailureRate = decimal("OVERKILL_FX_BREAKER_FAILURE_RATE", "0.5", 0.01, 1)
	s.BreakerMinCalls = int(integer("OVERKILL_FX_BREAKER_MIN_CALLS", "10", 1, 100_000))
	s.BreakerWindow = secs("OVERKILL_FX_BREAKER_WINDOW_SECS", "30", 1, 3600)
	s.BreakerOpen = secs("OVERKILL_FX_BREAKER_OPEN_SECS", "10", 1, 3600)
	s.CacheTTL = secs("OVERKILL_FX_CACHE_TTL_SECS", "3600", 0, 86_400)
	s.StaleLimit = secs("OVERKILL_FX_STALE_LIMIT_SECS", "86400", 0, 604_800)
	return s
}

// checkFXURL accepts an http:// or https:// base URL with a host and no
// query or fragment (returned without trailing slashes), or "" / "off"
// (any case): conversion off, returned as "".
func checkFXURL(v string) (string, string) {
	if v == "" || strings.EqualFold(v, "off") {
		return "", ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", "must be an http:// or https:// base URL (without a query), or off"
	}
	return strings.TrimRight(v, "/"), ""
}

// maxIdempotencyTTLSecs: keys are kept at most 30 days (the Rust service's
// bound; its least is 60 s).
const maxIdempotencyTTLSecs = 30 * 86_400

// maxDurationMS is the longest duration setting accepted: one day.
const maxDurationMS = 86_400_000

// checkAddr validates an IP:port listen address ("" when fine).
func checkAddr(v string) string {
	if ap, err := netip.ParseAddrPort(v); err != nil || ap.Addr().Zone() != "" {
		return "must be an IP:port address such as 0.0.0.0:8080"
	}
	return ""
}

// parseLogLevel accepts the filter syntax the Rust service documents
// (tracing's EnvFilter directives): comma-separated "level", "target" or
// "target=level" items, levels trace, debug, info, warn, error, off; a bare
// target means every level of it. slog has no targets, so the most verbose
// level named wins; "off" alone silences logging.
func parseLogLevel(v string) (level slog.Level, off bool, ok bool) {
	levels := map[string]slog.Level{
		"trace": slog.LevelDebug, "debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError,
	}
	level, off = slog.LevelError+1, true
	for _, item := range strings.Split(v, ",") {
		target, name, hasLevel := strings.Cut(item, "=")
		if !hasLevel {
			target, name = "", item
		}
		if hasLevel && !validTarget(target) || strings.Contains(name, "=") {
			return 0, false, false
		}
		name = strings.ToLower(name)
		if name == "off" {
			continue
		}
		l, known := levels[name]
		switch {
		case known:
		case !hasLevel && validTarget(item): // a bare target: all of its levels
			l = slog.LevelDebug
		default:
			return 0, false, false
		}
		off = false
		if l < level {
			level = l
		}
	}
	return level, off, true
}

// validTarget: a Rust module path such as overkill or chassis::server.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for _, part := range strings.Split(t, "::") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}
