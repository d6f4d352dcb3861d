package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pattern is an endless generator of bytes that are cheap to check.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n % 251)
		p.n++
	}
	return len(b), nil
}

// heapWatch samples HeapInuse until stopped and reports the peak growth.
func heapWatch() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

const streamBytes = 256 << 20

// 256 MiB each way goes through with memory bounded by the buffers.
func TestStreamsWithoutBuffering(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	var received atomic.Int64
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			n, _ := io.Copy(io.Discard, r.Body)
			received.Store(n)
			return
		}
		io.Copy(w, io.LimitReader(&pattern{}, streamBytes)) // chunked: no length declared
	})
	h := start(t, routeTOML("/big/", []string{up}))
	stop := heapWatch()
	resp, err := http.Get(h.url + "/big/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != streamBytes {
		t.Fatalf("downloaded %d bytes: %v", n, err)
	}
	req, _ := http.NewRequest(http.MethodPut, h.url+"/big/", io.LimitReader(&pattern{}, streamBytes))
	req.ContentLength = -1 // chunked
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if received.Load() != streamBytes {
		t.Fatalf("upstream received %d bytes", received.Load())
	}
	if grew := stop(); grew > 16<<20 {
		t.Fatalf("heap grew by %d MiB while streaming 512 MiB", grew>>20)
	}
}

// A streamed response of unknown length reaches the client as it comes.
func TestChunkedResponseIsFlushedAsItComes(t *testing.T) {
	next := make(chan struct{})
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	})
	h := start(t, routeTOML("/s/", []string{up}))
	resp, err := http.Get(h.url + "/s/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(next)
	if err != nil || line != "first\n" {
		t.Fatalf("%q %v", line, err)
	}
}

func TestMaxBodyBytes(t *testing.T) {
	var hits atomic.Int64
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	})
	h := start(t, routeTOML("/u/", []string{up}, "max_body_bytes = 1000"))
	// Declared over the limit: 413 at once, nothing sent upstream, no 100.
	out := raw(t, h.url, "POST /u/ HTTP/1.1\r\nHost: f\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, "payload-too-large") || strings.Contains(out, "100 Continue") {
		t.Fatalf("declared: %s", out)
	}
	// Chunked past the limit: cut with 413.
	body := fmt.Sprintf("3e8\r\n%s\r\n3e8\r\n%s\r\n0\r\n\r\n", strings.Repeat("a", 1000), strings.Repeat("b", 1000))
	out = raw(t, h.url, "POST /u/ HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
	if !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, "payload-too-large") {
		t.Fatalf("chunked: %s", out)
	}
	// At the limit: through.
	out = raw(t, h.url, "POST /u/ HTTP/1.1\r\nHost: f\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"+strings.Repeat("a", 1000))
	if !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("at the limit: %s", out)
	}
	if n := counterValue(t, h.reg, map[string]string{"upstream": "none", "class": "4xx"}); n != 1 {
		t.Errorf("413 before any upstream counted %v times", n)
	}
}

// An upstream that stops sending mid-body is cut after idle_timeout_ms.
func TestIdleUpstreamBodyIsAborted(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		time.Sleep(3 * time.Second)
	})
	h := start(t, routeTOML("/i/", []string{up}, "idle_timeout_ms = 200"))
	begin := time.Now()
	if _, err := getAll(h.url + "/i/"); err == nil {
		t.Fatal("clean end of a cut body")
	}
	if d := time.Since(begin); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("cut after %v", d)
	}
}

// A client whose upload stalls gets 408 after idle_timeout_ms; a slow
// upstream head is not an idle body (response_timeout_ms rules it).
func TestIdleClientUploadIs408(t *testing.T) {
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	h := start(t, routeTOML("/i/", []string{up}, "idle_timeout_ms = 200"))
	begin := time.Now()
	out := raw(t, h.url, "POST /i/ HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 408") || !strings.Contains(out, "request-timeout") {
		t.Fatalf("%s", out)
	}
	if d := time.Since(begin); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("408 after %v", d)
	}
	slow := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(400 * time.Millisecond) })
	h = start(t, routeTOML("/i/", []string{slow}, "idle_timeout_ms = 100"))
	if resp, _ := get(t, h.url+"/i/"); resp.StatusCode != 200 {
		t.Fatalf("a slow head under the idle timeout: %d", resp.StatusCode)
	}
}

// A client that stops reading is cut after idle_timeout_ms, and the
// upstream's connection is released.
func TestClientThatStopsReadingIsCut(t *testing.T) {
	done := make(chan error, 1)
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(w, io.LimitReader(&pattern{}, 1<<30))
		done <- err
	})
	h := start(t, routeTOML("/i/", []string{up}, "idle_timeout_ms = 200"))
	_, c, _ := rawHead(t, h.url, "GET /i/ HTTP/1.1\r\nHost: f\r\n\r\n")
	_ = c // never read again
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the upstream wrote 1 GiB to a client that did not read")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream is still writing to a client that stopped reading")
	}
	u := h.p.routes[0].pool.ups[0]
	waitFor(t, 2*time.Second, func() bool { return u.active.Load() == 0 })
}

// A proxied stream is not bound by any request timeout: it runs as long
// as bytes move.
func TestLongStreamOutlivesTheIdleTimeout(t *testing.T) {
	up := serveUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for range 10 {
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	h := start(t, routeTOML("/i/", []string{up}, "idle_timeout_ms = 150"))
	resp, s := get(t, h.url+"/i/")
	if resp.StatusCode != 200 || strings.Count(s.Body, "tick") != 10 {
		t.Fatalf("%d %q", resp.StatusCode, s.Body)
	}
}

// Expect: 100-continue is forwarded: the client's 100 follows the
// upstream's, and the body then goes through.
func TestExpectContinueIsForwarded(t *testing.T) {
	up := echo(t, "a", nil)
	h := start(t, routeTOML("/e/", []string{up}))
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /e/ HTTP/1.1\r\nHost: f\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("%q %v", line, err)
	}
	for {
		line, err := br.ReadString('\n') // the 100's headers, to its blank line
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"Body":"hello"`) || !strings.Contains(string(b), `"Expect":["100-continue"]`) ||
		resp.Header.Get("X-Request-Id") != testRequestID {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// An upstream that stops reading an upload is the upstream's stall: 504
// after idle_timeout_ms, not the client's 408.
func TestUpstreamThatStopsReadingTheUploadIs504(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn, _ *http.Request) { time.Sleep(5 * time.Second) })
	h := start(t, routeTOML("/i/", []string{up}, "idle_timeout_ms = 300"))
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const size = 256 << 20 // more than every socket buffer on the way holds
	go func() {
		io.WriteString(c, fmt.Sprintf("PUT /i/ HTTP/1.1\r\nHost: f\r\nContent-Length: %d\r\n\r\n", size))
		io.Copy(c, io.LimitReader(&pattern{}, size))
	}()
	begin := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 504 || !strings.Contains(string(b), "gateway-timeout") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("504 after %v", d)
	}
}
