//! `fx-sim`: serve a simulated Frankfurter v2 provider until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use fx_sim::{Knobs, KnobsPatch, Malformed, Simulator, StartError};

/// Exit statuses, as the service uses them (sysexits).
mod status {
    /// A knob out of range (EX_USAGE).
    pub const USAGE: u8 = 64;
    /// The address cannot be bound (EX_UNAVAILABLE).
    pub const BIND: u8 = 69;
}

/// A simulated Frankfurter v2 FX provider with deterministic rates and
/// fault knobs. Change the knobs at run time with `POST /_control` (a JSON
/// object with any of them), read them with `GET /_control`; `GET /_stats`
/// counts the calls, `POST /_stats/reset` zeroes the counts.
///
/// Exit status: 0 stopped by a signal, 2 usage, 64 a knob out of range,
/// 69 the address cannot be bound, 1 anything else.
#[derive(Debug, Parser)]
#[command(name = "fx-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Date every rate carries, YYYY-MM-DD; rates depend on it [default: 2026-11-27].
    #[arg(long)]
    date: Option<String>,
    /// Sustained calls a second before 429; 0 means no quota [default: 0].
    #[arg(long)]
    quota_per_second: Option<u32>,
    /// Calls admitted at once (token bucket size); 0 means quota-per-second [default: 0].
    #[arg(long)]
    quota_burst: Option<u32>,
    /// Delay before every answer, in milliseconds [default: 0].
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Up to this many milliseconds more per call, drawn from the seed [default: 0].
    #[arg(long)]
    jitter_ms: Option<u64>,
    /// Share of calls (0 to 1) answered 500, or 503 with Retry-After [default: 0].
    #[arg(long)]
    error_rate: Option<f64>,
    /// Accept calls and never answer them.
    #[arg(long)]
    black_hole: bool,
    /// Answer every call 503.
    #[arg(long)]
    outage: bool,
    /// Periodic outages: every this many milliseconds, the first --outage-for-ms are down [default: 0, none].
    #[arg(long)]
    outage_every_ms: Option<u64>,
    /// Length of each periodic outage, in milliseconds [default: 0].
    #[arg(long)]
    outage_for_ms: Option<u64>,
    /// Spoil successful answers: none, bad_json, negative_rate, nan_rate, wrong_pair, bad_date, truncated [default: none].
    #[arg(long)]
    malformed: Option<Malformed>,
    /// Seed of every random draw [default: 1].
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = cli.listen;
    let knobs = match Knobs::default().merged(cli.into_patch()) {
        Ok(knobs) => knobs,
        Err(error) => {
            eprintln!("fx-sim: invalid knob {error}");
            return ExitCode::from(status::USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fx-sim: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(listen, knobs))
}

async fn run(listen: SocketAddr, knobs: Knobs) -> ExitCode {
    let simulator = match Simulator::bind(listen, knobs).await {
        Ok(simulator) => simulator,
        Err(StartError::Knobs(error)) => {
            eprintln!("fx-sim: invalid knob {error}");
            return ExitCode::from(status::USAGE);
        }
        Err(StartError::Bind(error)) => {
            eprintln!("fx-sim: cannot listen on {listen}: {error}");
            return ExitCode::from(status::BIND);
        }
    };
    // One JSON line, as the service logs it, so scripts can wait for it and
    // read the port chosen for port 0.
    let line = serde_json::json!({ "message": "listening", "listen": simulator.addr().to_string() });
    eprintln!("{line}");
    if let Err(error) = stop_signal().await {
        eprintln!("fx-sim: cannot wait for signals: {error}");
        return ExitCode::FAILURE;
    }
    match simulator.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fx-sim: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves at the first SIGINT or SIGTERM.
async fn stop_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

// === impl Cli ===

impl Cli {
    fn into_patch(self) -> KnobsPatch {
        KnobsPatch {
            date: self.date,
            quota_per_second: self.quota_per_second,
            quota_burst: self.quota_burst,
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            error_rate: self.error_rate,
            black_hole: self.black_hole.then_some(true),
            outage: self.outage.then_some(true),
            outage_every_ms: self.outage_every_ms,
            outage_for_ms: self.outage_for_ms,
            malformed: self.malformed,
            seed: self.seed,
        }
    }
}
