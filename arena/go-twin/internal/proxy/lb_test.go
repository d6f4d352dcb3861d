package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func testPool(lb Balancer, n int) *pool {
	rc := RouteConfig{LB: lb}
	for i := range n {
		a := fmt.Sprintf("u%d:1", i)
		rc.Upstreams = append(rc.Upstreams, Upstream{a, a})
	}
	return newPool(&rc)
}

func TestRoundRobinIsEven(t *testing.T) {
	p := testPool(RoundRobin, 3)
	counts := map[string]int{}
	for range 300 {
		u, _ := p.pick(0)
		counts[u.Addr]++
	}
	for _, u := range p.ups {
		if counts[u.Addr] != 100 {
			t.Fatalf("%v", counts)
		}
	}
	// An ejected upstream is skipped; the others share its turns.
	p.ups[1].healthy.Store(false)
	counts = map[string]int{}
	for range 300 {
		u, _ := p.pick(0)
		counts[u.Addr]++
	}
	if counts["u1:1"] != 0 || counts["u0:1"]+counts["u2:1"] != 300 || counts["u0:1"] < 100 || counts["u2:1"] < 100 {
		t.Fatalf("%v", counts)
	}
}

func TestLeastRequestsPrefersTheIdlest(t *testing.T) {
	p := testPool(LeastRequests, 3)
	p.ups[0].active.Store(5)
	p.ups[1].active.Store(2)
	p.ups[2].active.Store(3)
	for range 10 {
		if u, _ := p.pick(0); u != p.ups[1] {
			t.Fatalf("picked %s", u.Addr)
		}
	}
	// Ties are spread, not always the first.
	for _, u := range p.ups {
		u.active.Store(0)
	}
	counts := map[string]int{}
	for range 300 {
		u, _ := p.pick(0)
		counts[u.Addr]++
	}
	if len(counts) != 3 || counts["u0:1"] != 100 {
		t.Fatalf("ties: %v", counts)
	}
}

func TestP2CAvoidsTheBusiestAndSpreads(t *testing.T) {
	p := testPool(P2C, 4)
	p.ups[2].active.Store(100)
	counts := map[string]int{}
	for range 4000 {
		u, _ := p.pick(0)
		counts[u.Addr]++
	}
	if counts["u2:1"] != 0 {
		t.Fatalf("the busiest got %d of 4000: %v", counts["u2:1"], counts)
	}
	for _, a := range []string{"u0:1", "u1:1", "u3:1"} {
		if counts[a] < 1000 || counts[a] > 1700 {
			t.Fatalf("uneven: %v", counts)
		}
	}
	// The tried set is honoured by every balancer.
	for _, lb := range []Balancer{RoundRobin, LeastRequests, P2C} {
		p := testPool(lb, 3)
		for range 50 {
			if u, _ := p.pick(0b101); u != p.ups[1] {
				t.Fatalf("balancer %d picked %s, tried", lb, u.Addr)
			}
		}
		if u, _ := p.pick(0b111); u != nil {
			t.Fatalf("balancer %d picked %s with all tried", lb, u.Addr)
		}
	}
}

// least_requests over real upstreams: a slow one gets fewer requests.
func TestLeastRequestsThroughTheProxy(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	var slowHits sync.WaitGroup
	slow := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "slow")
		<-release
	})
	fast := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Upstream", "fast") })
	h := start(t, routeTOML("/lb/", []string{slow, fast}, `lb = "least_requests"`))
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the servers close
	// Occupy the slow one with 3 requests in flight.
	slowHits.Add(3)
	for range 3 {
		go func() {
			defer slowHits.Done()
			resp, err := http.Get(h.url + "/lb/")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	su := h.p.routes[0].pool.ups[0]
	waitFor(t, 2*time.Second, func() bool { return su.active.Load() >= 1 })
	fastCount := 0
	for range 20 {
		resp, _ := get(t, h.url+"/lb/")
		if resp.Header.Get("X-Upstream") == "fast" {
			fastCount++
		}
	}
	once.Do(func() { close(release) })
	slowHits.Wait()
	if fastCount != 20 {
		t.Fatalf("fast upstream got %d of 20 while the slow one was busy", fastCount)
	}
}

func TestMetricsHaveTheDesignsNamesAndLabels(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/m/", []string{up}))
	get(t, h.url+"/m/")
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, mf := range mfs {
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName()+"="+lp.GetValue())
		}
		found[mf.GetName()] = strings.Join(labels, ",")
	}
	want := map[string]string{
		"proxy_requests_total":           "class=1xx,route=0:/m/,upstream=" + up,
		"proxy_request_duration_seconds": "route=0:/m/",
		"proxy_upstream_active_requests": "route=0:/m/,upstream=" + up,
		"proxy_upstream_healthy":         "route=0:/m/,upstream=" + up,
	}
	for name, labels := range want {
		if found[name] != labels {
			t.Errorf("%s{%s}, want {%s}", name, found[name], labels)
		}
	}
	if n := counterValue(t, h.reg, map[string]string{"upstream": up, "class": "2xx"}); n != 1 {
		t.Errorf("2xx count %v", n)
	}
}

// A retry does not take a turn: with one dead upstream of two, requests
// still alternate their first attempt, so half of them start on the dead one.
func TestRetryDoesNotShiftTheRotation(t *testing.T) {
	p := testPool(RoundRobin, 2)
	first := map[string]int{}
	for range 10 {
		u, _ := p.pick(0)
		first[u.Addr]++
		if u == p.ups[0] { // "dead": the retry takes the other
			if v, _ := p.pick(1 << u.index); v != p.ups[1] {
				t.Fatalf("retry picked %v", v)
			}
		}
	}
	if first["u0:1"] != 5 || first["u1:1"] != 5 {
		t.Fatalf("first attempts %v, want 5 each", first)
	}
}

// No client text becomes a label: random paths, hosts and methods on a
// route add no series.
func TestMetricLabelsAreBoundedByTheConfiguration(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/m/", []string{up}))
	count := func() int {
		mfs, _ := h.reg.Gather()
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	get(t, h.url+"/m/")
	before := count()
	for i := range 200 {
		req, _ := http.NewRequest(fmt.Sprintf("M%d", i), fmt.Sprintf("%s/m/%d", h.url, i), nil)
		req.Host = fmt.Sprintf("h%d.example", i)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if after := count(); after != before {
		t.Fatalf("series: %d before, %d after 200 distinct requests", before, after)
	}
}
