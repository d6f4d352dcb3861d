//! The `fx-sim` binary: readiness line, flags, exit statuses, and the
//! README's table of knobs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use fx_sim::Knobs;

const BINARY: &str = env!("CARGO_BIN_EXE_fx-sim");

#[tokio::test]
async fn it_prints_where_it_listens_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--quota-per-second", "3", "--malformed", "bad_date"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{BINARY}: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr is piped"));
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).unwrap_or_else(|e| panic!("reading stderr: {e}"));
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(ready["message"], "listening");
    let listen = ready["listen"].as_str().unwrap_or_default().to_owned();

    let knobs: Knobs = match reqwest::get(format!("http://{listen}/_control")).await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(error) => panic!("{error}"),
    };
    assert_eq!(knobs.quota_per_second, 3);
    assert_eq!(knobs.malformed, fx_sim::Malformed::BadDate);
    let rate = reqwest::get(format!("http://{listen}/v2/rate/USD/EUR")).await;
    assert_eq!(rate.map(|r| r.status().as_u16()).ok(), Some(200));

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(killed.is_ok_and(|status| status.success()));
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_knob_out_of_range_exits_64_with_one_line() {
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--error-rate", "2"])
        .output()
        .unwrap_or_else(|e| panic!("{BINARY}: {e}"));
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "fx-sim: invalid knob error_rate: must be between 0 and 1\n");
}

#[test]
fn an_address_in_use_exits_69() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let address = taken.local_addr().unwrap_or_else(|e| panic!("{e}")).to_string();
    let output = Command::new(BINARY).args(["--listen", &address]).output().unwrap_or_else(|e| panic!("{BINARY}: {e}"));
    assert_eq!(output.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("fx-sim: cannot listen on"));
}

#[test]
fn every_knob_has_a_flag_and_a_row_in_the_readme() {
    let help = Command::new(BINARY).arg("--help").output().unwrap_or_else(|e| panic!("{BINARY}: {e}"));
    let help = String::from_utf8_lossy(&help.stdout);
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let (_, section) = readme
        .split_once("## The FX provider simulator")
        .unwrap_or_else(|| panic!("the README has a section on the simulator"));
    let knobs = serde_json::to_value(Knobs::default()).unwrap_or_default();
    let names: Vec<&String> = knobs.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(names.len(), 12);
    for name in names {
        let flag = format!("--{}", name.replace('_', "-"));
        assert!(help.contains(&flag), "--help lacks {flag}");
        assert!(section.contains(&format!("`{name}`")), "the README's table lacks `{name}`");
    }
}
