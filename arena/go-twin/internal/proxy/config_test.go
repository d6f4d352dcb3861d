package proxy

import (
	"strings"
	"testing"
	"time"
)

func TestParseReadsEveryKeyAndIgnoresTheRustServicesOtherSettings(t *testing.T) {
	routes, err := Parse([]byte(`
listen = "0.0.0.0:8080"
[database]
url = "postgres://x"
[fx]
url = "off"

[[proxy.routes]]
prefix = "/catalog/"
host = "Shop.Example.COM"
upstreams = ["127.0.0.1:9001", "http://10.0.0.7:8080", "http://[::1]:9/"]
strip_prefix = true
preserve_host = true
lb = "p2c"
connect_timeout_ms = 500
response_timeout_ms = 2000
idle_timeout_ms = 3000
max_body_bytes = 0
retries = 5

[proxy.routes.health]
path = "/healthz"
interval_ms = 100
timeout_ms = 50
healthy_threshold = 1
unhealthy_threshold = 100

[[proxy.routes]]
prefix = "/a"
upstreams = ["localhost:1"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 2 {
		t.Fatalf("%d routes, want 2", len(routes))
	}
	r := routes[0]
	want := []Upstream{{"127.0.0.1:9001", "127.0.0.1:9001"}, {"http://10.0.0.7:8080", "10.0.0.7:8080"}, {"http://[::1]:9/", "[::1]:9"}}
	if r.Prefix != "/catalog/" || r.Host != "shop.example.com" || !r.StripPrefix || !r.PreserveHost || r.LB != P2C ||
		r.ConnectTimeout != 500*time.Millisecond || r.ResponseTimeout != 2*time.Second || r.IdleTimeout != 3*time.Second ||
		r.MaxBodyBytes != 0 || r.Retries != 5 || len(r.Upstreams) != 3 {
		t.Fatalf("route 0: %+v", r)
	}
	for i := range want {
		if r.Upstreams[i] != want[i] {
			t.Errorf("upstream %d: %+v, want %+v", i, r.Upstreams[i], want[i])
		}
	}
	if h := r.Health; h == nil || h.Path != "/healthz" || h.Interval != 100*time.Millisecond || h.Timeout != 50*time.Millisecond ||
		h.HealthyThreshold != 1 || h.UnhealthyThreshold != 100 {
		t.Fatalf("health: %+v", r.Health)
	}
	d := routes[1]
	if d.Index != 1 || d.Host != "" || d.StripPrefix || d.PreserveHost || d.LB != RoundRobin || d.ConnectTimeout != time.Second ||
		d.ResponseTimeout != 30*time.Second || d.IdleTimeout != time.Minute || d.MaxBodyBytes != 1<<30 || d.Retries != 1 || d.Health != nil {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestParseWithoutProxySectionHasNoRoutes(t *testing.T) {
	for _, doc := range []string{"", "listen = \"0.0.0.0:1\"\n", "[proxy]\n"} {
		routes, err := Parse([]byte(doc))
		if err != nil || len(routes) != 0 {
			t.Errorf("%q: %v %v", doc, routes, err)
		}
	}
}

// Every invalid route is refused with one line naming proxy.routes[i].key.
func TestParseErrorsNameTheRouteAndKey(t *testing.T) {
	const ok = "[[proxy.routes]]\nprefix = \"/ok/\"\nupstreams = [\"127.0.0.1:1\"]\n"
	second := func(lines string) string { return ok + "[[proxy.routes]]\n" + lines }
	base := "prefix = \"/b/\"\nupstreams = [\"127.0.0.1:2\"]\n"
	cases := []struct{ doc, key, reason string }{
		{second("upstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "required"},
		{second("prefix = \"/b/\"\n"), "proxy.routes[1].upstreams", "required"},
		{second(base + "upstrems = 1\n"), "proxy.routes[1].upstrems", "unknown setting"},
		{second("prefix = 1\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "string"},
		{second("prefix = \"b/\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "start with /"},
		{second("prefix = \"/b?x\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "?, # or %"},
		{second("prefix = \"/b#\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "?, # or %"},
		{second("prefix = \"/b%2F\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "?, # or %"},
		{second("prefix = \"/b/../c\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", `".." segment`},
		{second("prefix = \"/b\\u0000\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "NUL"},
		{second("prefix = \"/" + strings.Repeat("a", 256) + "\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "256 bytes"},
		{second("prefix = \"/\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "shadow the service's own route /v1/"},
		{second("prefix = \"/v\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "shadow"},
		{second("prefix = \"/v1\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "shadow"},
		{second("prefix = \"/v1/products\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "shadow"},
		{second("prefix = \"/openapi.json\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "/openapi.json"},
		{second("prefix = \"/open\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "/openapi.json"},
		{second(base + "host = \"a.example:80\"\n"), "proxy.routes[1].host", "without a port"},
		{second(base + "host = \"-a.example\"\n"), "proxy.routes[1].host", "host name"},
		{second(base + "host = \"" + strings.Repeat("a.", 127) + "ab\"\n"), "proxy.routes[1].host", "253 bytes"},
		{second("prefix = \"/b/\"\nupstreams = []\n"), "proxy.routes[1].upstreams", "1 to 64"},
		{second("prefix = \"/b/\"\nupstreams = \"127.0.0.1:2\"\n"), "proxy.routes[1].upstreams", "array of strings"},
		{second("prefix = \"/b/\"\nupstreams = [\"127.0.0.1:2\", \"https://a:1\"]\n"), "proxy.routes[1].upstreams[1]", "https://"},
		{second("prefix = \"/b/\"\nupstreams = [\"ftp://a:1\"]\n"), "proxy.routes[1].upstreams[0]", "host:port"},
		{second("prefix = \"/b/\"\nupstreams = [\"http://a:1/x\"]\n"), "proxy.routes[1].upstreams[0]", "without a path"},
		{second("prefix = \"/b/\"\nupstreams = [\"http://a:1?x\"]\n"), "proxy.routes[1].upstreams[0]", "query"},
		{second("prefix = \"/b/\"\nupstreams = [\"http://u@a:1\"]\n"), "proxy.routes[1].upstreams[0]", "user info"},
		{second("prefix = \"/b/\"\nupstreams = [\"a\"]\n"), "proxy.routes[1].upstreams[0]", "host:port"},
		{second("prefix = \"/b/\"\nupstreams = [\"a:0\"]\n"), "proxy.routes[1].upstreams[0]", "port"},
		{second("prefix = \"/b/\"\nupstreams = [\"a:65536\"]\n"), "proxy.routes[1].upstreams[0]", "port"},
		{second("prefix = \"/b/\"\nupstreams = [\"a:1\", \"http://A:1\"]\n"), "proxy.routes[1].upstreams[1]", "twice"},
		{second(base + "lb = \"random\"\n"), "proxy.routes[1].lb", "round_robin, least_requests, p2c"},
		{second(base + "strip_prefix = \"yes\"\n"), "proxy.routes[1].strip_prefix", "true or false"},
		{second(base + "connect_timeout_ms = 0\n"), "proxy.routes[1].connect_timeout_ms", "between 1 and 60000"},
		{second(base + "connect_timeout_ms = 60001\n"), "proxy.routes[1].connect_timeout_ms", "between 1 and 60000"},
		{second(base + "response_timeout_ms = 3600001\n"), "proxy.routes[1].response_timeout_ms", "between 1 and 3600000"},
		{second(base + "idle_timeout_ms = 1.5\n"), "proxy.routes[1].idle_timeout_ms", "integer"},
		{second(base + "max_body_bytes = -1\n"), "proxy.routes[1].max_body_bytes", "between 0 and 1099511627776"},
		{second(base + "max_body_bytes = 1099511627777\n"), "proxy.routes[1].max_body_bytes", "between 0"},
		{second(base + "retries = 6\n"), "proxy.routes[1].retries", "between 0 and 5"},
		{second(base + "health = 1\n"), "proxy.routes[1].health", "table"},
		{second(base + "[proxy.routes.health]\npath = \"healthz\"\n"), "proxy.routes[1].health.path", "start with /"},
		{second(base + "[proxy.routes.health]\nintervl_ms = 5\n"), "proxy.routes[1].health.intervl_ms", "unknown setting"},
		{second(base + "[proxy.routes.health]\ninterval_ms = 99\n"), "proxy.routes[1].health.interval_ms", "between 100 and 3600000"},
		{second(base + "[proxy.routes.health]\ntimeout_ms = 60001\n"), "proxy.routes[1].health.timeout_ms", "between 1 and 60000"},
		{second(base + "[proxy.routes.health]\nhealthy_threshold = 0\n"), "proxy.routes[1].health.healthy_threshold", "between 1 and 100"},
		{second(base + "[proxy.routes.health]\nunhealthy_threshold = 101\n"), "proxy.routes[1].health.unhealthy_threshold", "between 1 and 100"},
		{second("prefix = \"/ok/\"\nupstreams = [\"127.0.0.1:2\"]\n"), "proxy.routes[1].prefix", "same host and prefix as proxy.routes[0]"},
		{"[proxy]\nextra = 1\n", "proxy.extra", "unknown setting"},
		{"[proxy]\nroutes = \"/a\"\n", "proxy.routes", "array of tables"},
		{"proxy = 1\n", "proxy", "section"},
		{"[[proxy.routes]\n", "OVERKILL_CONFIG", "not valid TOML"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		if err == nil {
			t.Errorf("accepted:\n%s", c.doc)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "invalid configuration: "+c.key+": ") || !strings.Contains(msg, c.reason) || strings.Contains(msg, "\n") {
			t.Errorf("%q\n  got  %q\n  want key %s and %q", c.doc, msg, c.key, c.reason)
		}
	}
}

// A prefix near the service's routes but matching none of them is fine,
// and so are two routes with one prefix on different hosts.
func TestParseAcceptsPrefixesThatShadowNothing(t *testing.T) {
	for _, p := range []string{"/v2/", "/v10/", "/v1x", "/openapi.json/x", "/openapi.jsonx", "/static/a b/", "/é/"} {
		doc := "[[proxy.routes]]\nprefix = \"" + p + "\"\nupstreams = [\"127.0.0.1:1\"]\n"
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	doc := "[[proxy.routes]]\nprefix = \"/a/\"\nupstreams = [\"127.0.0.1:1\"]\n" +
		"[[proxy.routes]]\nprefix = \"/a/\"\nhost = \"x.example\"\nupstreams = [\"127.0.0.1:1\"]\n"
	if _, err := Parse([]byte(doc)); err != nil {
		t.Error(err)
	}
}

func TestLoadNamesAnUnreadableFile(t *testing.T) {
	_, err := Load("/nonexistent/overkill.toml")
	if err == nil || !strings.Contains(err.Error(), "OVERKILL_CONFIG") {
		t.Fatalf("%v", err)
	}
	if routes, err := Load(""); routes != nil || err != nil {
		t.Fatalf("%v %v", routes, err)
	}
}
