package proxy

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// errIdle is the cause of an exchange aborted by its idle timeout.
var errIdle = errors.New("proxy: no body bytes moved within the idle timeout")

// errBodyTooLarge ends a request body that passed max_body_bytes.
var errBodyTooLarge = errors.New("proxy: request body larger than max_body_bytes")

// watchdog enforces idle_timeout_ms on one exchange: while a body is in
// flight (the request's, the response's, or an upgraded connection), the
// gap since the last byte moved either way must stay under idle. Reads
// and writes only store a timestamp; one timer per exchange checks it,
// re-armed for the time left (no timer reset per read).
type watchdog struct {
	idle  time.Duration
	start time.Time    // monotonic origin of last
	last  atomic.Int64 // nanoseconds since start of the last body byte
	open  atomic.Int32 // bodies in flight
	abort func()       // called once, from the timer's goroutine, if it fires

	mu      sync.Mutex // serialises fire with stop
	timer   *time.Timer
	stopped bool
	fired   atomic.Bool
}

func (w *watchdog) begin(idle time.Duration, abort func()) {
	w.idle, w.abort, w.start = idle, abort, time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(idle, w.fire)
}

// touch records progress.
func (w *watchdog) touch() { w.last.Store(int64(time.Since(w.start))) }

// opened starts a body: its gap is measured from now.
func (w *watchdog) opened() {
	w.touch()
	w.open.Add(1)
}

func (w *watchdog) closed() { w.open.Add(-1) }

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	gap := time.Since(w.start) - time.Duration(w.last.Load())
	if w.open.Load() > 0 && gap >= w.idle {
		w.fired.Store(true)
		w.abort()
		return
	}
	w.timer.Reset(max(w.idle-gap, time.Millisecond))
}

// stop ends the watchdog; abort is not called after it returns.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// requestBody is the client's body on its way upstream: it counts bytes
// against max_body_bytes (a chunked body is cut there) and reports progress.
// Close is withheld while a retry may still need the body (the Transport
// closes it after a failed attempt); the server closes the real one after
// the handler.
type requestBody struct {
	io.ReadCloser
	ex        *exchange
	remaining int64 // bytes still allowed
	started   bool  // read from: the body is in flight, under the watchdog
	done      bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if !b.started {
		b.started = true
		b.ex.reqOpen.Store(true)
		b.ex.dog.opened()
	}
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1] // one byte past the limit is enough to know
	}
	b.ex.reading.Store(true) // a stall now is the client's, not the upstream's
	n, err := b.ReadCloser.Read(p)
	b.ex.reading.Store(false)
	b.ex.dog.touch()
	b.remaining -= int64(n)
	if b.remaining < 0 {
		b.ex.tooLarge.Store(true)
		b.finish()
		return 0, errBodyTooLarge
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			b.finish()
		} else {
			b.ex.clientBodyFailed.Store(true)
		}
	}
	return n, err
}

func (b *requestBody) finish() {
	if !b.done {
		b.done = true
		b.ex.reqOpen.Store(false)
		b.ex.dog.closed()
	}
}

func (b *requestBody) Close() error {
	if b.ex.holdBody.Load() {
		return nil
	}
	return b.ReadCloser.Close()
}

// responseBody is the upstream's body on its way to the client: it reports
// progress, and at its end (EOF, error or close) the outcome of the
// exchange to the pool; the upstream's request slot is released at Close.
type responseBody struct {
	io.ReadCloser
	ex     *exchange
	up     *upstream // the upstream that answered
	closed atomic.Bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.ex.dog.touch()
	if err != nil && !errors.Is(err, io.EOF) {
		b.ex.bodyFailed(b.up)
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.ex.dog.closed()
		b.up.active.Add(-1)
	}
	return err
}

// upgradedBody is the upstream side of a connection switched to another
// protocol (101): bytes both ways are progress.
type upgradedBody struct {
	responseBody
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	b.ex.dog.touch()
	return n, err
}
