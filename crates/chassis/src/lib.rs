//! The overkill chassis: the parts of an HTTP microservice that are not about
//! its domain, ready for another service to depend on.
//!
//! A request travels: [`server`] (accept loop, connection limits, HTTP/1.1 and
//! h2c, graceful drain) → [`middleware`] (request id, access log and metrics,
//! problem rendering, panics, timeout, load shedding) → the service's router →
//! back out through [`problem`], which gives every error one RFC 9457 shape.
//! [`ops`] serves probes and metrics on a separate admin listener.

pub mod conditional;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod problem;
pub mod query;
pub mod request_id;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use problem::{FieldError, Problem};
pub use settings::HttpSettings;
pub use shutdown::Shutdown;
