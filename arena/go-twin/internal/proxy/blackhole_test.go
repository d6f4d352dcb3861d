package proxy

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// blackHole is a loopback address whose listen queue is full and never
// accepted from: a new connection's SYN is dropped, so connecting can
// only time out (a black-holed upstream, without leaving loopback).
func blackHole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel keeps accepting connections into a full queue")
	return ""
}

func TestConnectTimeoutIs502(t *testing.T) {
	h := start(t, routeTOML("/api/", []string{blackHole(t)}, "connect_timeout_ms = 100"))
	begin := time.Now()
	resp, s := get(t, h.url+"/api/")
	if resp.StatusCode != 502 || problemSlug(t, resp, s.Body) != "bad-gateway" {
		t.Fatalf("%d %s", resp.StatusCode, s.Body)
	}
	if d := time.Since(begin); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("502 after %v", d)
	}
}
