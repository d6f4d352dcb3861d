use std::collections::HashMap;

use super::*;

fn load(flags: SettingFlags, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::load(&flags, |key| env.get(key).cloned())
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let config = load(SettingFlags::default(), &[]).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(config.admin_listen.to_string(), "0.0.0.0:9090");
    assert!(matches!(config.database, DatabaseUrl::Sqlite(ref p) if p == Path::new("overkill.db")));
    assert_eq!(config.http.max_body_bytes, 1024 * 1024);
    assert_eq!(config.http.shutdown_timeout, Duration::from_secs(10));
}

#[test]
fn flags_beat_environment_which_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overkill.toml");
    std::fs::write(&path, "db_pool_size = 3\nmax_connections = 7\nlisten = \"127.0.0.1:1\"\n").unwrap();
    let flags = SettingFlags { config: Some(path), listen: Some("127.0.0.1:3".into()), ..SettingFlags::default() };
    let config = load(flags, &[("OVERKILL_DB_POOL_SIZE", "5"), ("OVERKILL_LISTEN", "127.0.0.1:2")]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:3");
    assert_eq!(config.db_pool_size, 5);
    assert_eq!(config.http.max_connections, 7);
}

#[test]
fn errors_name_the_setting_and_its_source() {
    let error = load(SettingFlags::default(), &[("OVERKILL_DB_POOL_SIZE", "lots")]).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("db_pool_size") && text.contains("OVERKILL_DB_POOL_SIZE"), "{text}");

    let flags = SettingFlags { request_timeout_ms: Some("0".into()), ..SettingFlags::default() };
    assert!(load(flags, &[]).unwrap_err().to_string().contains("--request-timeout-ms"));
}

#[test]
fn postgres_urls_are_never_echoed() {
    let error =
        load(SettingFlags::default(), &[("DATABASE_URL", "postgres://u:hunter2@host:notaport/db")]).unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = load(SettingFlags::default(), &[("DATABASE_URL", "mysql://x")]).unwrap_err();
    assert!(error.to_string().contains("DATABASE_URL"));
}

#[test]
fn unknown_file_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "lisen = \"0.0.0.0:1\"\n").unwrap();
    let flags = SettingFlags { config: Some(path), ..SettingFlags::default() };
    assert!(load(flags, &[]).unwrap_err().to_string().contains("lisen"));
}

#[test]
fn log_filters_are_checked() {
    assert!(log_filter("info").is_ok());
    assert!(log_filter("overkill=debug,warn").is_ok());
    assert!(log_filter("loud").is_err());
}
