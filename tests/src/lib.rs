//! Test support: the real gateway binary, faithful fake upstreams and a test client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: failing loudly is the point

pub mod browser;
pub mod client;
pub mod config;
pub mod fake_openai;
pub mod gateway;
pub mod ledger;
pub mod postgres;
pub mod raw;
pub mod redis;
pub mod sdk;
