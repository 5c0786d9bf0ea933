//! Gatehouse: a standalone OpenID Connect provider.
//!
//! Layers, bottom to top: config/clock/crypto/telemetry/metrics/domain → store → keys/mail/accounts/oauth →
//! web → startup/cli. A module imports only from its own layer or below.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod server;
pub mod startup;
pub mod store;
pub mod telemetry;
mod web;
