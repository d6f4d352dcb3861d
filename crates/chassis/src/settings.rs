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
    /// Time a client has to send the request head (slowloris guard); the
    /// connection is closed after it.
    pub header_read_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Requests in flight at most; further requests get a 503 `unavailable`.
    pub max_concurrent_requests: usize,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub shutdown_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_concurrent_requests: 512,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}
