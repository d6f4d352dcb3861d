//! Helpers shared by the HTTP tests. Each test crate uses some of them.
#![allow(dead_code)]

use fx_sim::rates;
use fx_sim::{KnobsPatch, Simulator};
use serde_json::Value;

pub async fn get(simulator: &Simulator, path: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path}", simulator.url())).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap_or_else(|e| panic!("JSON: {e}"))
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn patch(json: Value) -> KnobsPatch {
    serde_json::from_value(json).unwrap_or_else(|e| panic!("patch: {e}"))
}

pub fn set(simulator: &Simulator, json: Value) {
    simulator.set(patch(json)).unwrap_or_else(|e| panic!("set: {e}"));
}

pub fn currency(code: &str) -> &'static rates::Currency {
    rates::find(code).unwrap_or_else(|| panic!("{code}"))
}
