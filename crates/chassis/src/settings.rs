//! Limits and timeouts of the HTTP server, shared by every service on the chassis.

use std::time::Duration;

/// Bounds the HTTP server enforces. Every limit has a default that suits a
/// small service and every one can be configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Time a handler may take before the client gets a 503 `timeout` problem.
    pub request_timeout: Duration,
    /// Time a client has to send a complete request head, counted from the
    /// accept for the first request of a connection, whatever the protocol
    /// (slowloris guard); the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Time a client has to send the whole request body once the head is in;
    /// a slower client gets 408 and its request slot back.
    pub body_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight (HTTP/1.1
    /// keep-alive and HTTP/2 alike) before the server closes it, and the
    /// longest a response may wait for the client to take a byte of it.
    /// HTTP/1.1 keep-alive connections also close when `header_read_timeout`
    /// passes with no new request (hyper's timer), if that is shorter.
    pub idle_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Requests in flight at most; further requests get a 503 `unavailable`.
    pub max_concurrent_requests: usize,
    /// Request streams one HTTP/2 or HTTP/3 connection may have open at
    /// once (capped by `max_concurrent_requests`), so one connection cannot
    /// take every request slot.
    pub max_streams_per_connection: usize,
    /// After shutdown starts: how long the service keeps serving and
    /// accepting (readiness already reports draining) so load balancers
    /// notice before connections close. Responses carry `Connection: close`
    /// (HTTP/1.1) and HTTP/2 connections get GOAWAY during this window.
    pub drain_grace: Duration,
    /// After the grace period: how long in-flight requests may take to
    /// finish before the remaining connections are closed.
    pub shutdown_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_concurrent_requests: 512,
            max_streams_per_connection: 100,
            drain_grace: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}
