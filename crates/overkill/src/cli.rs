//! The command line: `overkill [serve|migrate|openapi|dev-cert]` and one flag per setting.
//!
//! The setting flags are not written out here: they come from
//! [`crate::config::SETTINGS`], the one declaration of every setting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::config::spec::SettingSpec;
use crate::config::{CONFIG_ENV, SETTINGS};
use crate::dev_cert::DevCertArgs;

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
