//! The `overkill` binary: exit statuses and messages, as an operator meets them.

use std::process::{Command, Output};

fn overkill(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_overkill"));
    command.args(args).env_remove("DATABASE_URL").env_remove("OVERKILL_CONFIG").env("OVERKILL_LOG_FORMAT", "json");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

/// Asserts `output` exited with `status` after exactly one plain (not
/// JSON) line on stderr, and returns that line.
fn one_plain_line(output: &Output, status: i32) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(status), "{stderr}");
    let plain: Vec<&str> = stderr.lines().filter(|line| !line.starts_with('{')).collect();
    assert_eq!(plain.len(), 1, "one plain line: {stderr}");
    assert!(!stderr.contains(r#""level":"ERROR""#), "the error is not logged as well: {stderr}");
    plain[0].to_owned()
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cli.db").display())
}

/// Arguments, environment, and the name the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn an_invalid_setting_exits_64_with_one_line_naming_it() {
    let cases: [Case; 7] = [
        (&[], &[("OVERKILL_DB_POOL_SIZE", "many")], "OVERKILL_DB_POOL_SIZE"),
        (&["serve", "--listen", "nowhere"], &[], "--listen"),
        (&[], &[("DATABASE_URL", "mysql://db")], "DATABASE_URL"),
        (&["--max-body-bytes", "0"], &[], "max_body_bytes"),
        (&["--log-level", "overkill=loud"], &[], "--log-level"),
        (&["--idle-timeout-ms", "0"], &[], "--idle-timeout-ms"),
        (&[], &[("OVERKILL_DRAIN_GRACE_MS", "soon")], "OVERKILL_DRAIN_GRACE_MS"),
    ];
    for (args, env, named) in cases {
        let line = one_plain_line(&overkill(args, env), 64);
        assert!(line.contains(named), "{args:?} {env:?}: {line}");
    }
}

#[test]
fn a_broken_settings_file_exits_64_naming_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overkill.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\nmax_connections = 10\nlog_level = \"info\n").unwrap();
    let path = path.display().to_string();
    let line = one_plain_line(&overkill(&["--config", &path], &[]), 64);
    assert!(line.contains(&path) && line.contains("line 3, column"), "{line}");

    std::fs::write(&path, "[telemetry]\nurl = \"https://example.com\"\n").unwrap();
    let line = one_plain_line(&overkill(&[], &[("OVERKILL_CONFIG", &path)]), 64);
    assert!(line.contains("unknown setting `telemetry`"), "{line}");
    // A route that would shadow the service's own: named with its index.
    std::fs::write(&path, "[[proxy.routes]]\nprefix = \"/\"\nupstreams = [\"127.0.0.1:9\"]\n").unwrap();
    let line = one_plain_line(&overkill(&["--config", &path], &[]), 64);
    assert!(line.contains("proxy.routes[0].prefix") && line.contains("shadow"), "{line}");

    // A section's keys are checked like any other, and named in full.
    std::fs::write(&path, "[fx]\nurl = \"ftp://example.com\"\n").unwrap();
    let line = one_plain_line(&overkill(&["--config", &path], &[]), 64);
    assert!(line.contains("fx.url") && line.contains(&path), "{line}");
    std::fs::write(&path, "[fx]\nretries = 3\n").unwrap();
    let line = one_plain_line(&overkill(&["--config", &path], &[]), 64);
    assert!(line.contains("fx.retries"), "{line}");
    let line = one_plain_line(&overkill(&[], &[("OVERKILL_FX_QUOTA_PER_SECOND", "0")]), 64);
    assert!(line.contains("fx.quota_per_second") && line.contains("OVERKILL_FX_QUOTA_PER_SECOND"), "{line}");
}

#[test]
fn log_filters_are_read_by_the_log_subscribers_own_parser() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    for filter in ["overkill", "info,hyper=off", "overkill=debug,warn"] {
        let output = overkill(&["migrate", "--log-level", filter, "--database-url", &url], &[]);
        assert!(output.status.success(), "{filter}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error_and_help_and_version_succeed() {
    let unknown = overkill(&["--no-such-flag"], &[]);
    assert_eq!(unknown.status.code(), Some(2), "clap's usage status");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("Usage:"));

    for option in ["--help", "-h"] {
        let help = overkill(&[option], &[]);
        assert!(help.status.success());
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in ["migrate", "dev-cert", "--tls-cert", "--body-read-timeout-ms", "--idle-timeout-ms", "--config"] {
            assert!(help.contains(flag), "{flag} in {option}");
        }
        // Help describes what exists, not what is planned (the roadmap's next).
        for planned in ["JWT", "OpenTelemetry"] {
            assert!(!help.contains(planned), "{option} mentions `{planned}`: {help}");
        }
    }
    let version = overkill(&["--version"], &[]);
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_port_in_use_exits_69_with_one_line_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let args = ["--listen", &address, "--admin-listen", "127.0.0.1:0"];
    let line = one_plain_line(&overkill(&args, &[("DATABASE_URL", &sqlite_url(&dir))]), 69);
    assert!(line.starts_with("overkill: cannot listen on") && line.contains(&address), "{line}");
}

#[test]
fn an_unopenable_sqlite_path_exits_73_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-directory").join("overkill.db");
    let url = format!("sqlite://{}", path.display());
    for command in ["serve", "migrate"] {
        let args = [command, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--database-url", &url];
        let line = one_plain_line(&overkill(&args, &[]), 73);
        assert!(line.starts_with("overkill: cannot open the database"), "{command}: {line}");
        assert!(line.contains(&path.display().to_string()), "{command}: {line}");
    }
}

#[test]
fn migrate_applies_once_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let first = overkill(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    // SQLite has three migrations (create products, name their
    // constraints, create orders).
    assert!(String::from_utf8_lossy(&first.stderr).contains(r#""applied":3"#));
    let second = overkill(&["migrate", "--database-url", &url], &[]);
    assert!(String::from_utf8_lossy(&second.stderr).contains(r#""applied":0"#));
}
