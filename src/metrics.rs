//! Prometheus metrics, off unless `GATEHOUSE_METRICS_BIND` names a listener of their own (so
//! they are never public by accident). Without a recorder every `metrics` macro is a no-op.
//! Imports nothing from the crate.
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, seconds: from a cached JWKS answer to a slow password hash.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process's recorder once and returns its handle (one process may run several
/// servers, as the tests do; they share it).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map_err(|e| tracing::error!(error = %e, "metrics buckets refused"))
                .ok()?
                .install_recorder();
            match recorder {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::error!(error = %e, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .clone()
}

/// True once a recorder is installed (`GATEHOUSE_METRICS_BIND` is set).
pub fn enabled() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

/// One finished request: by route (the matched pattern, never the raw path) and status.
pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("gatehouse_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "gatehouse_http_request_duration_seconds",
        "route" => route.to_owned()
    )
    .record(seconds);
}

/// Every audit event by name (logins succeeded, failed and throttled among them).
/// An audit event that reached the log but not the SQL audit log (its queue was full).
pub fn audit_dropped() {
    metrics::counter!("gatehouse_audit_dropped_total").increment(1);
}

pub fn audit(event: &'static str) {
    metrics::counter!("gatehouse_audit_events_total", "event" => event).increment(1);
    let outcome = match event {
        "login.succeeded" => "succeeded",
        "login.failed" => "failed",
        "login.throttled" => "throttled",
        _ => return,
    };
    metrics::counter!("gatehouse_logins_total", "outcome" => outcome).increment(1);
}

/// A token response issued, by grant type.
pub fn token_issued(grant: &'static str) {
    metrics::counter!("gatehouse_tokens_issued_total", "grant" => grant).increment(1);
}

/// An algorithm's signing key: its age and the seconds until its next rotation.
pub fn signing_key(alg: &'static str, age: i64, next_rotation_in: i64) {
    metrics::gauge!("gatehouse_signing_key_age_seconds", "alg" => alg).set(age as f64);
    metrics::gauge!("gatehouse_signing_key_next_rotation_seconds", "alg" => alg)
        .set(next_rotation_in as f64);
}

/// Database pool use, read when metrics are scraped.
pub fn pool(size: u32, idle: usize, max: u32) {
    metrics::gauge!("gatehouse_db_pool_connections").set(f64::from(size));
    metrics::gauge!("gatehouse_db_pool_idle_connections").set(idle as f64);
    metrics::gauge!("gatehouse_db_pool_max_connections").set(f64::from(max));
}

/// One expiry sweep: rows it deleted, and the expired rows still waiting (its backlog).
pub fn sweep(deleted: u64, backlog: i64) {
    metrics::counter!("gatehouse_sweeper_deleted_rows_total").increment(deleted);
    metrics::gauge!("gatehouse_sweeper_backlog_rows").set(backlog as f64);
}

/// The mail queue, read at scrape time: messages waiting, and those already tried and failed.
pub fn mail_queue(waiting: i64, retrying: i64) {
    metrics::gauge!("gatehouse_mail_queue_messages").set(waiting as f64);
    metrics::gauge!("gatehouse_mail_queue_retrying_messages").set(retrying as f64);
}

pub fn backchannel_logout_queue(waiting: i64, retrying: i64) {
    metrics::gauge!("gatehouse_backchannel_logout_queue").set(waiting as f64);
    metrics::gauge!("gatehouse_backchannel_logout_queue_retrying").set(retrying as f64);
}

/// Back-channel logouts, by what happened to one: delivered, deferred (to be retried) or
/// dropped (the client is gone or refused it).
pub fn backchannel_logout(outcome: &'static str) {
    metrics::counter!("gatehouse_backchannel_logout_total", "outcome" => outcome).increment(1);
}

/// Outbound mail, by what happened to a message: queued, sent, deferred (to be retried) or
/// dropped (refused for good, or expired).
pub fn mail(outcome: &'static str) {
    metrics::counter!("gatehouse_mail_total", "outcome" => outcome).increment(1);
}
