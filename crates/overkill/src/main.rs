//! `overkill`: parse the command line, load the configuration, run.

use std::process::ExitCode;

use clap::Parser;
use overkill::cli::{Cli, Command};
use overkill::startup::{self, StartError};
use overkill::{Application, Config};

/// Exit statuses, documented in the README ("Exit status") and `--help`.
/// Usage errors (an unknown flag, a missing value) exit 2, clap's status.
mod status {
    /// An invalid setting or settings file (sysexits EX_USAGE).
    pub const CONFIG: u8 = 64;
    /// A listener cannot bind its address (sysexits EX_UNAVAILABLE).
    pub const BIND: u8 = 69;
    /// The database cannot be opened or created (sysexits EX_CANTCREAT).
    pub const DATABASE: u8 = 73;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // 2 for a usage error, 0 for --help and --version.
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::DevCert(args) = &command {
        // Needs no configuration: works wherever the binary does.
        return match overkill::dev_cert::write(args) {
            Ok((cert, key)) => {
                println!("wrote {} and {} (self-signed, for localhost only)", cert.display(), key.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("overkill: dev-cert: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(&cli.settings, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("overkill: {error}");
            return ExitCode::from(status::CONFIG);
        }
    };
    if let Err(error) = chassis::telemetry::init_logging(config.log_format, &config.log_level) {
        eprintln!("overkill: {error:#}");
        return ExitCode::from(status::CONFIG);
    }
    let runtime = match overkill::runtime::build(config.db_pool_size) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("overkill: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_status(&error),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            tokio::spawn(app.shutdown().trigger_on_signal());
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let applied = startup::migrate(&config).await?;
            tracing::info!(applied, "migrations applied");
            Ok(())
        }
        Command::Openapi => {
            // Nothing but the document on stdout: a client generator reads it.
            print!("{}", overkill::api::OPENAPI_JSON);
            Ok(())
        }
        Command::DevCert(_) => unreachable!("handled before the configuration is loaded"),
    }
}

/// Reports why the service stopped and picks the exit status. The start-up
/// failures an operator fixes by hand get one plain line on stderr (not a
/// log line) and their own status; anything else is logged.
fn exit_status(error: &anyhow::Error) -> ExitCode {
    let status = match error.downcast_ref::<StartError>() {
        Some(StartError::Bind { .. }) => status::BIND,
        Some(StartError::Tls { .. }) => status::CONFIG,
        Some(StartError::Database(_)) => status::DATABASE,
        Some(StartError::Other(_)) | None => {
            tracing::error!(error = format!("{error:#}"), "overkill stopped with an error");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("overkill: {error}");
    ExitCode::from(status)
}
