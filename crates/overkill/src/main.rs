//! `overkill`: parse the command line, load the configuration, run.

use std::process::ExitCode;

use clap::Parser;
use overkill::cli::{Cli, Command};
use overkill::{Application, Config, startup};

/// Exit status for a bad command line or configuration (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    let config = match Config::load(&cli.settings, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("overkill: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(error) = chassis::telemetry::init_logging(config.log_format, &config.log_level) {
        eprintln!("overkill: {error:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match overkill::runtime::build(config.db_pool_size) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("overkill: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "overkill stopped with an error");
            ExitCode::FAILURE
        }
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
    }
}
