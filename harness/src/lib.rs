//! The tokenstorm harness: drive a client under test through scenarios against the mock
//! identity provider, and judge it. This crate holds the `tokenstorm` binary's parts.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod adapters;
pub mod browser;
mod client;
pub mod driver;
pub mod events;
pub mod expected;
pub mod impersonation;
pub mod inproc;
pub mod library;
pub mod observe;
pub mod progress;
pub mod report;
pub mod rules;
pub mod run;
pub mod runner;
pub mod state_dir;
