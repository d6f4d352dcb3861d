//! The command line: `overkill [serve|migrate|openapi|dev-cert]`, one flag per
//! setting, and [`main`], the binary itself.
//!
//! The setting flags are not written out here: they come from
//! [`crate::config::SETTINGS`], the one declaration of every setting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::config::spec::SettingSpec;
use crate::config::{CONFIG_ENV, SETTINGS};
use crate::dev_cert::DevCertArgs;
use crate::startup::{self, StartError};
use crate::{Application, Config};

/// overkill: a products catalogue and orders over HTTP, on PostgreSQL or embedded SQLite, with prices in
/// any currency through an FX provider.
///
/// Settings come from defaults < the TOML file < OVERKILL_* environment
/// variables (and DATABASE_URL) < these flags. Exit status: 0 done,
/// 2 usage, 64 invalid configuration, 69 a listener cannot bind, 73 the
/// database cannot be opened, 1 anything else.
#[derive(Debug, Parser)]
#[command(name = "overkill", version)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings given as flags.
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the API and the admin endpoints (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
    /// Print the OpenAPI document the API serves at /openapi.json, then exit.
    Openapi,
    /// Write a self-signed certificate and key for localhost (cert.pem,
    /// key.pem) for trying TLS and HTTP/3 locally; never for production.
    DevCert(DevCertArgs),
}

/// The settings file and the setting flags given on the command line.
/// Values stay text here and are parsed with the other sources, so every
/// source gets the same validation and the same error messages.
#[derive(Debug, Clone, Default)]
pub struct SettingFlags {
    /// The TOML settings file (`--config`).
    pub config: Option<PathBuf>,
    /// Flag values by setting key.
    values: BTreeMap<&'static str, String>,
}

const CONFIG_ARG: &str = "config";

// === impl SettingFlags ===

impl SettingFlags {
    /// Flag values by setting key.
    pub fn values(&self) -> &BTreeMap<&'static str, String> {
        &self.values
    }
}

impl Args for SettingFlags {
    fn augment_args(command: clap::Command) -> clap::Command {
        let config = Arg::new(CONFIG_ARG)
            .long(CONFIG_ARG)
            .global(true)
            .value_name("PATH")
            .value_parser(clap::value_parser!(PathBuf))
            .help(format!("TOML settings file [env: {CONFIG_ENV}]"));
        command.arg(config).args(setting_args(SETTINGS))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let config = matches.get_one::<PathBuf>(CONFIG_ARG).cloned();
        Ok(Self { config, values: setting_values(SETTINGS, matches) })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// One flag per setting that has one, identified by the setting's key, with
/// its doc, environment variable and default in the help line.
pub(crate) fn setting_args<T>(specs: &'static [SettingSpec<T>]) -> impl Iterator<Item = Arg> {
    specs.iter().filter_map(|spec| {
        let env = spec.env.map(|name| format!(" [env: {name}]")).unwrap_or_default();
        let help = format!("{}{env} [default: {}]", spec.doc, spec.default_text());
        Some(Arg::new(spec.key).long(spec.flag?).global(true).value_name(spec.value_name).help(help))
    })
}

/// The flags given, as text by setting key.
pub(crate) fn setting_values<T>(specs: &[SettingSpec<T>], matches: &ArgMatches) -> BTreeMap<&'static str, String> {
    specs
        .iter()
        .filter(|spec| spec.flag.is_some())
        .filter_map(|spec| Some((spec.key, matches.get_one::<String>(spec.key)?.clone())))
        .collect()
}

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

/// The `overkill` binary: parses the command line, loads the
/// configuration, runs the command, and picks the exit status. Here, not in
/// `main.rs`, so that the binary's crate has nothing to compile but a call:
/// a release build compiled this code (and every generic it instantiates)
/// a second time there, about 9 s of a clean build (arena/findings.md).
pub fn main() -> ExitCode {
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
        return match crate::dev_cert::write(args) {
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
    let runtime = match crate::runtime::build(config.db_pool_size) {
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
            print!("{}", crate::api::OPENAPI_JSON);
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
