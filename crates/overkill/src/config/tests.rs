use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use clap::Parser;

use super::file::SettingsFile;
use super::spec::{self, Entry, EntryError, Kind, SettingSpec, Sources};
use super::*;
use crate::cli::Cli;

/// Loads with the command line `args` and the environment `env`.
fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let cli = Cli::try_parse_from(std::iter::once("overkill").chain(args.iter().copied())).unwrap();
    let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::load(&cli.settings, |key| env.get(key).cloned())
}

/// A settings file holding `text`, kept alive with its directory.
fn file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overkill.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

fn load_file(text: &str) -> Result<Config, ConfigError> {
    let (_dir, path) = file(text);
    load(&["--config", &path], &[])
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let config = load(&[], &[]).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(config.admin_listen.to_string(), "0.0.0.0:9090");
    assert!(matches!(config.database, DatabaseUrl::Sqlite(ref p) if p == Path::new("overkill.db")));
    assert_eq!(config.db_pool_size, 16);
    assert_eq!(config.log_level, "info");
    assert!(config.migrate_on_start);
    assert_eq!(config.http.max_body_bytes, 1024 * 1024);
    assert_eq!(config.http.body_read_timeout, Duration::from_secs(10));
    assert_eq!(config.http.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.http.drain_grace, Duration::from_secs(5));
    assert_eq!(config.http.shutdown_timeout, Duration::from_secs(10));
}

#[test]
fn flags_beat_environment_which_beats_file() {
    let (_dir, path) = file("db_pool_size = 3\nmax_connections = 7\nlisten = \"127.0.0.1:1\"\n");
    let env = [("OVERKILL_DB_POOL_SIZE", "5"), ("OVERKILL_LISTEN", "127.0.0.1:2")];
    let config = load(&["--config", &path, "--listen", "127.0.0.1:3"], &env).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:3");
    assert_eq!(config.db_pool_size, 5);
    assert_eq!(config.http.max_connections, 7);
}

#[test]
fn the_file_can_come_from_the_environment_and_flags_follow_a_subcommand() {
    let (_dir, path) = file("admin_listen = \"127.0.0.1:4\"\n");
    let config = load(&["migrate", "--db-pool-size", "2"], &[("OVERKILL_CONFIG", &path)]).unwrap();
    assert_eq!(config.admin_listen.to_string(), "127.0.0.1:4");
    assert_eq!(config.db_pool_size, 2);
}

#[test]
fn errors_name_the_setting_and_its_source() {
    let text = load(&[], &[("OVERKILL_DB_POOL_SIZE", "lots")]).unwrap_err().to_string();
    assert!(text.contains("db_pool_size") && text.contains("OVERKILL_DB_POOL_SIZE"), "{text}");
    let text = load(&["--request-timeout-ms", "0"], &[]).unwrap_err().to_string();
    assert!(text.contains("--request-timeout-ms"), "{text}");
    let (_dir, path) = file("ballast_mb = -1\n");
    let text = load(&["--config", &path], &[]).unwrap_err().to_string();
    assert!(text.contains("ballast_mb") && text.contains(&path), "{text}");
}

#[test]
fn the_new_http_bounds_are_wired_and_bounded() {
    let env = [
        ("OVERKILL_BODY_READ_TIMEOUT_MS", "1500"),
        ("OVERKILL_IDLE_TIMEOUT_MS", "2500"),
        ("OVERKILL_DRAIN_GRACE_MS", "0"),
    ];
    let config = load(&[], &env).unwrap();
    assert_eq!(config.http.body_read_timeout, Duration::from_millis(1500));
    assert_eq!(config.http.idle_timeout, Duration::from_millis(2500));
    assert_eq!(config.http.drain_grace, Duration::ZERO, "0 means no grace");
    let config = load(&["--drain-grace-ms", "250", "--idle-timeout-ms", "9"], &[]).unwrap();
    assert_eq!(config.http.drain_grace, Duration::from_millis(250));
    assert_eq!(config.http.idle_timeout, Duration::from_millis(9));
    for (flag, value) in [
        ("--body-read-timeout-ms", "0"),
        ("--idle-timeout-ms", "0"),
        ("--drain-grace-ms", "86400001"),
        ("--drain-grace-ms", "-1"),
    ] {
        let text = load(&[&format!("{flag}={value}")], &[]).unwrap_err().to_string();
        assert!(text.contains(flag), "{flag}={value}: {text}");
    }
}

#[test]
fn postgres_urls_are_never_echoed() {
    let error = load(&[], &[("DATABASE_URL", "postgres://u:hunter2@host:notaport/db")]).unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = load(&[], &[("DATABASE_URL", "mysql://x")]).unwrap_err();
    assert!(error.to_string().contains("DATABASE_URL"));
}

#[test]
fn unknown_file_keys_are_rejected_with_their_dotted_key() {
    let text = load_file("lisen = \"0.0.0.0:1\"\n").unwrap_err().to_string();
    assert!(text.contains("unknown setting `lisen`"), "{text}");
    let text = load_file("[http]\nmax_body_bytes = 1\n").unwrap_err().to_string();
    assert!(text.contains("unknown setting `http`"), "{text}");
    let text = load_file("\"listen.x\" = 1\n").unwrap_err().to_string();
    assert!(text.contains("unknown setting"), "{text}");
}

#[test]
fn values_of_the_wrong_toml_type_are_rejected() {
    let text = load_file("listen = [\"0.0.0.0:1\"]\n").unwrap_err().to_string();
    assert!(text.contains("listen") && text.contains("found array"), "{text}");
    let text = load_file("drain_grace_ms = 1.5\n").unwrap_err().to_string();
    assert!(text.contains("drain_grace_ms") && text.contains("found float"), "{text}");
}

#[test]
fn a_broken_file_names_the_line_and_column() {
    let text = load_file("listen = \"0.0.0.0:1\"\n\ndb_pool_size = = 3\n").unwrap_err().to_string();
    assert!(text.contains("line 3, column 16"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let (_dir, path) = file("");
    let missing = format!("{path}.missing");
    let text = load(&["--config", &missing], &[]).unwrap_err().to_string();
    assert!(text.contains("cannot read the file") && text.contains(&missing), "{text}");
}

#[test]
fn log_filters_use_the_subscribers_own_parser() {
    for accepted in ["info", "overkill", "overkill=debug,warn", "info,hyper=off", "OFF"] {
        assert!(settings::log_filter(accepted).is_ok(), "{accepted}");
    }
    for rejected in ["overkill=loud", "", " ", "[{", "overkill[span]=debug", "a b=info", "=info"] {
        assert!(settings::log_filter(rejected).is_err(), "{rejected:?}");
    }
    assert!(load(&["--log-level", "overkill"], &[]).is_ok());
}

#[test]
fn log_format_auto_resolves_and_others_are_rejected() {
    assert!(load(&["--log-format", "auto"], &[]).is_ok());
    assert_eq!(load(&["--log-format", "json"], &[]).unwrap().log_format, LogFormat::Json);
    assert!(load(&["--log-format", "xml"], &[]).unwrap_err().to_string().contains("--log-format"));
}

/// Flags and environment variables are spelled from the file key, so a
/// reader who knows one knows the others (`fx.url` ↔ `OVERKILL_FX_URL` ↔
/// `--fx-url`); only `DATABASE_URL` keeps its conventional name.
#[test]
fn every_setting_follows_the_naming_convention() {
    // Arrays of tables (`[[proxy.routes]]`) are file-only.
    for spec in SETTINGS.iter().filter(|spec| matches!(spec.kind, Kind::Value(_))) {
        let spelled = spec.key.replace('.', "_").to_ascii_uppercase();
        let env = if spec.key == "database_url" { spelled } else { format!("OVERKILL_{spelled}") };
        assert_eq!(spec.env, Some(env.as_str()), "{}", spec.key);
        assert_eq!(spec.flag, Some(spec.key.replace(['.', '_'], "-").as_str()), "{}", spec.key);
        // Unset by default: only what turns a feature on (TLS).
        let optional = ["tls.cert", "tls.key", "tls.listen"].contains(&spec.key);
        assert!((spec.default.is_some() || optional) && !spec.doc.is_empty(), "{}", spec.key);
    }
}

#[test]
fn every_setting_has_a_flag_in_the_help() {
    use clap::CommandFactory;
    let help = Cli::command().render_long_help().to_string();
    for spec in SETTINGS.iter().filter(|spec| matches!(spec.kind, Kind::Value(_))) {
        let flag = format!("--{}", spec.flag.unwrap_or_default());
        assert!(help.contains(&flag), "{flag} missing from --help");
        assert!(help.contains(&format!("[default: {}]", spec.default_text())), "{} default", spec.key);
    }
}

/// The README's configuration table is generated from [`SETTINGS`]; this
/// fails when they differ. `OVERKILL_BLESS=1` rewrites the README's table.
#[test]
fn the_readme_table_matches_the_declared_settings() {
    const START: &str = "<!-- settings-table:start -->\n";
    const END: &str = "<!-- settings-table:end -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = readme.split_once(START).expect("the README marks its settings table");
    let (table, tail) = rest.split_once(END).expect("the README ends its settings table");
    let note = "<!-- generated from crates/overkill/src/config/settings.rs by \
                `OVERKILL_BLESS=1 cargo test -p overkill --lib readme`; do not edit -->";
    let expected = format!("{note}\n{}", spec::markdown_table(SETTINGS));
    if table != expected && std::env::var_os("OVERKILL_BLESS").is_some() {
        std::fs::write(&path, format!("{head}{START}{expected}{END}{tail}")).unwrap();
        return;
    }
    assert_eq!(table, expected, "README.md's settings table is stale: run with OVERKILL_BLESS=1");
}

// === A future configuration: sections and arrays of tables ===

/// Stands in for the settings the next features add (`[fx]`,
/// `[[proxy.routes]]`), to show the loader handles their shapes.
#[derive(Debug, Default)]
struct Future {
    fx_url: String,
    fx_timeout_ms: u64,
    routes: Vec<(String, String)>,
}

static FUTURE: &[SettingSpec<Future>] = &[
    SettingSpec {
        key: "fx.url",
        env: Some("OVERKILL_FX_URL"),
        flag: Some("fx-url"),
        value_name: "URL",
        default: Some("https://api.frankfurter.dev"),
        doc: "FX provider",
        kind: Kind::Value(|f, v| {
            f.fx_url = v.to_owned();
            Ok(())
        }),
    },
    SettingSpec {
        key: "fx.timeout_ms",
        env: Some("OVERKILL_FX_TIMEOUT_MS"),
        flag: Some("fx-timeout-ms"),
        value_name: "MS",
        default: Some("2000"),
        doc: "FX call time limit",
        kind: Kind::Value(|f, v| {
            f.fx_timeout_ms = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
            Ok(())
        }),
    },
    SettingSpec {
        key: "proxy.routes",
        env: None,
        flag: None,
        value_name: "",
        default: None,
        doc: "proxy routes",
        kind: Kind::Tables { fields: &["prefix", "upstream"], apply: route },
    },
];

fn route(future: &mut Future, entry: &Entry) -> Result<(), EntryError> {
    let upstream = entry.require("upstream")?;
    if !upstream.starts_with("http://") {
        return Err(EntryError { field: "upstream", reason: format!("`{upstream}` is not an http:// URL") });
    }
    future.routes.push((entry.get("prefix").unwrap_or("/").to_owned(), upstream.to_owned()));
    Ok(())
}

/// Resolves [`FUTURE`] from a file holding `toml`, flags and environment.
fn load_future(toml: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Future, ConfigError> {
    let (_dir, path) = file(toml);
    let file = SettingsFile::read(Path::new(&path), FUTURE)?;
    let command = clap::Command::new("future").args(crate::cli::setting_args(FUTURE));
    let matches = command.try_get_matches_from(std::iter::once("future").chain(args.iter().copied())).unwrap();
    let flags: BTreeMap<&'static str, String> = crate::cli::setting_values(FUTURE, &matches);
    let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let lookup = |name: &str| env.get(name).cloned();
    let mut future = Future::default();
    spec::apply_defaults(FUTURE, &mut future);
    spec::resolve(FUTURE, &mut future, &Sources { flags: &flags, env: &lookup, file: Some(&file) })?;
    Ok(future)
}

#[test]
fn a_section_key_is_read_from_the_file_the_environment_and_a_flag() {
    let toml = "[fx]\nurl = \"http://file\"\n";
    assert_eq!(load_future("", &[], &[]).unwrap().fx_url, "https://api.frankfurter.dev");
    assert_eq!(load_future(toml, &[], &[]).unwrap().fx_url, "http://file");
    let env = [("OVERKILL_FX_URL", "http://env")];
    assert_eq!(load_future(toml, &[], &env).unwrap().fx_url, "http://env");
    assert_eq!(load_future(toml, &["--fx-url", "http://flag"], &env).unwrap().fx_url, "http://flag");
    let text = load_future("fx.timeout_ms = \"soon\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("fx.timeout_ms") && text.contains("not a number"), "{text}");
}

#[test]
fn unknown_keys_in_sections_are_named_with_their_full_dotted_key() {
    let text = load_future("[fx]\nulr = \"x\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("unknown setting `fx.ulr`"), "{text}");
    let text = load_future("fx = \"x\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("`fx` is a section"), "{text}");
    let text = load_future("[proxy.extra]\na = 1\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("unknown setting `proxy.extra`"), "{text}");
    let text = load_future("[fx]\n\"url.x\" = 1\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("unknown setting `fx.\"url.x\"`"), "{text}");
}

#[test]
fn arrays_of_tables_are_read_and_checked_entry_by_entry() {
    let toml =
        "[[proxy.routes]]\nprefix = \"/a\"\nupstream = \"http://a\"\n\n[[proxy.routes]]\nupstream = \"http://b\"\n";
    let future = load_future(toml, &[], &[]).unwrap();
    assert_eq!(future.routes, [("/a".to_owned(), "http://a".to_owned()), ("/".to_owned(), "http://b".to_owned())]);

    let typo = "[[proxy.routes]]\nupstream = \"http://a\"\n[[proxy.routes]]\nupstrem = \"http://b\"\n";
    let text = load_future(typo, &[], &[]).unwrap_err().to_string();
    assert!(text.contains("unknown setting `proxy.routes[1].upstrem`"), "{text}");
    let text = load_future("[[proxy.routes]]\nprefix = \"/a\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("proxy.routes[0].upstream") && text.contains("required"), "{text}");
    let text = load_future("[[proxy.routes]]\nupstream = \"ftp://a\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("proxy.routes[0].upstream") && text.contains("ftp://a"), "{text}");
    let text = load_future("[proxy]\nroutes = \"/a\"\n", &[], &[]).unwrap_err().to_string();
    assert!(text.contains("proxy.routes") && text.contains("array of tables"), "{text}");
}
