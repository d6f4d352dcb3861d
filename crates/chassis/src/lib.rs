//! The overkill chassis: the parts of an HTTP microservice that are not about
//! its domain, ready for another service to depend on.
//!
//! A request travels: [`server`] (accept loop, connection limits and
//! deadlines, HTTP/1.1 and h2c, [`tls`] with HTTP/2 over it, HTTP/3 over
//! QUIC in [`server::h3`], staged drain) → [`middleware`] (request id,
//! access log and metrics, problem rendering, panics, framing and body
//! limits, timeout, load shedding) → the service's router → back out through
//! [`problem`], which gives every error one RFC 9457 shape. [`body`] reads
//! bounded bodies; [`cause`] maps upstream failures to 502/504.
//! [`ops`] serves probes and metrics on a separate admin listener; with the
//! `openapi` feature, `openapi` documents what the middleware answers.

pub mod body;
pub mod cause;
pub mod client;
pub mod conditional;
pub mod deadline;
pub mod extract;
pub mod idempotency;
pub mod middleware;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod proxy;
pub mod query;
pub mod request_id;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use deadline::Deadline;
pub use problem::{FieldError, PassThrough, Problem};
pub use settings::HttpSettings;
pub use shutdown::Shutdown;
