//! Tollgate: an OpenAI-compatible gateway that routes every LLM request, by licence and
//! data-sensitivity policy, to an on-device model, a local open-model server or a closed API,
//! and meters tokens, cost and latency per route, tenant and model.

pub mod admin;
pub mod audit_cli;
pub mod backends;
pub mod cli;
pub mod cli_policy;
pub mod config;
pub mod conn;
pub mod counting;
pub mod drain;
pub mod errors;
pub mod gateway;
pub mod health;
pub mod idle;
pub mod limits;
pub mod live;
pub mod meter;
pub mod pipeline;
pub mod policy;
pub mod prices_cli;
pub mod reload_cli;
pub mod server;
pub mod spend_cli;
pub mod ui;
