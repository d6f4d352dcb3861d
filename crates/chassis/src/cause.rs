//! Deciding by cause, not by message: walk an error's `source()` chain.
//! The outbound client and the proxy map what went wrong upstream to 502
//! or 504 with [`upstream_problem`].

use std::error::Error;
use std::io;

use crate::problem::Problem;

/// The first error in `error`'s chain (itself included) of type `T`.
pub fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    chain(error).find_map(|e| e.downcast_ref::<T>())
}

/// `error` and its sources, outermost first.
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// What an upstream failure was, as far as a client can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The upstream did not answer in time.
    Timeout,
    /// The upstream refused the connection (nothing was sent).
    Refused,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// Anything else: a protocol error, a bad response.
    Other,
}

/// Sorts an upstream error by the first cause that tells.
pub fn upstream_failure(error: &(dyn Error + 'static)) -> UpstreamFailure {
    for cause in chain(error) {
        if cause.is::<tokio::time::error::Elapsed>() {
            return UpstreamFailure::Timeout;
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut => return UpstreamFailure::Timeout,
                io::ErrorKind::ConnectionRefused => return UpstreamFailure::Refused,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return UpstreamFailure::Reset,
                _ => {}
            }
        }
    }
    UpstreamFailure::Other
}

/// 504 when the upstream timed out, 502 otherwise. `upstream` names it in
/// the detail (a configured name, never the error text).
pub fn upstream_problem(upstream: &str, error: &(dyn Error + 'static)) -> Problem {
    match upstream_failure(error) {
        UpstreamFailure::Timeout => Problem::gateway_timeout(format!("{upstream} did not answer in time")),
        UpstreamFailure::Refused | UpstreamFailure::Reset | UpstreamFailure::Other => {
            Problem::bad_gateway(format!("{upstream} failed to answer"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn walks_the_chain_to_the_telling_cause() {
        let timed_out = Wrapper(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        assert_eq!(upstream_failure(&timed_out), UpstreamFailure::Timeout);
        assert_eq!(upstream_problem("fx", &timed_out).status, 504);
        let refused = Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(upstream_failure(&refused), UpstreamFailure::Refused);
        assert_eq!(upstream_problem("fx", &refused).status, 502);
        assert!(find::<io::Error>(&refused).is_some());
        let other = io::Error::other("bad response");
        assert_eq!(upstream_failure(&other), UpstreamFailure::Other);
    }
}
