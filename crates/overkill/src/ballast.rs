//! Benchmark ballast: live heap held for the process's lifetime, so the
//! arena can compare tail latency while each twin holds the same amount of
//! live data (where a tracing garbage collector would have to scan it).
//! Off (0 MiB) unless `OVERKILL_BALLAST_MB` is set; never needed in production.

use std::sync::OnceLock;

/// Size of one ballast entry; small, like the entries of a warm cache.
const ENTRY_BYTES: usize = 128;

static BALLAST: OnceLock<Vec<Box<[u8]>>> = OnceLock::new();

/// Allocates `mib` MiB as many small entries, once per process, and keeps them.
pub fn hold(mib: usize) {
    if mib == 0 {
        return;
    }
    BALLAST.get_or_init(|| {
        let entries = mib * 1024 * 1024 / ENTRY_BYTES;
        // Distinct contents so no page is left untouched (and unmapped).
        (0..entries).map(|i| vec![(i % 251) as u8; ENTRY_BYTES].into_boxed_slice()).collect()
    });
}
