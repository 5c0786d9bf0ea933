//! One integration binary: every test spawns the real server on 127.0.0.1:0 with its own
//! database (SQLite always; PostgreSQL when GATEHOUSE_TEST_DATABASE_URL is set).
mod helpers;

mod admin_api;
mod audit;
mod authorize;
mod backchannel;
mod cli;
mod conformance;
mod console;
mod discovery;
mod dpop;
mod faults;
mod flow;
mod fuzz;
mod hardening;
mod keys;
mod lifecycle;
mod login;
mod mail;
mod metrics;
mod mfa;
mod par;
mod private_key_jwt;
mod rbac;
mod registration;
mod store_conformance;
mod token;
mod userinfo;
