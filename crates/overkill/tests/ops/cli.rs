//! The `overkill` binary: exit codes and messages.

use std::process::{Command, Output};

fn overkill(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_overkill"));
    command.args(args).env_remove("DATABASE_URL").env("OVERKILL_LOG_FORMAT", "json");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

/// Arguments, environment, and the name the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn an_invalid_setting_exits_64_with_one_line_naming_it() {
    let cases: [Case; 4] = [
        (&[], &[("OVERKILL_DB_POOL_SIZE", "many")], "OVERKILL_DB_POOL_SIZE"),
        (&["serve", "--listen", "nowhere"], &[], "--listen"),
        (&[], &[("DATABASE_URL", "mysql://db")], "DATABASE_URL"),
        (&["--max-body-bytes", "0"], &[], "max_body_bytes"),
    ];
    for (args, env, named) in cases {
        let output = overkill(args, env);
        assert_eq!(output.status.code(), Some(64), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error_and_help_and_version_succeed() {
    assert_eq!(overkill(&["--no-such-flag"], &[]).status.code(), Some(64));
    let help = overkill(&["--help"], &[]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("migrate"));
    let version = overkill(&["--version"], &[]);
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn migrate_applies_once_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let first = overkill(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    // SQLite has two migrations (create, then name the constraints).
    assert!(String::from_utf8_lossy(&first.stderr).contains(r#""applied":2"#));
    let second = overkill(&["migrate", "--database-url", &url], &[]);
    assert!(String::from_utf8_lossy(&second.stderr).contains(r#""applied":0"#));
}
