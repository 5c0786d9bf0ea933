//! The only place that reads wall time. Tests use a clock they can stop and move forward.
//! Imports nothing from the crate.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in seconds: the system clock, or (in tests) a stopped clock, plus an offset that
/// only tests move.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// When set, time stands still at this instant (plus the offset).
    frozen_at: Option<i64>,
}

fn wall() -> i64 {
    wall_micros().div_euclid(1_000_000)
}

#[allow(clippy::disallowed_methods)]
fn wall_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock stopped at the current wall time; it moves only with `advance`.
    pub fn frozen() -> Self {
        Self {
            offset: Arc::default(),
            frozen_at: Some(wall()),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.frozen_at.unwrap_or_else(wall) + self.offset.load(Ordering::Relaxed)
    }

    /// Microseconds since the Unix epoch, for ordering events written by several processes;
    /// a frozen clock has no fraction of a second. Agrees with `now` to the second.
    pub fn now_micros(&self) -> i64 {
        let base = match self.frozen_at {
            Some(s) => s * 1_000_000,
            None => wall_micros(),
        };
        base + self.offset.load(Ordering::Relaxed) * 1_000_000
    }

    /// How far this clock is from the wall clock (0 for the system clock). Libraries that keep
    /// wall-clock times (tower-sessions' expiry) are translated with it.
    pub fn offset(&self) -> i64 {
        self.now() - wall()
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// Seconds before the next try of a queued delivery after `attempts` failed ones: `first`,
/// doubling each time, at most `max`.
pub fn backoff(attempts: i64, first: i64, max: i64) -> i64 {
    let exp = attempts.saturating_sub(1).clamp(0, 16) as u32;
    first.saturating_mul(1 << exp).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let c = Clock::frozen();
        let t = c.now();
        c.advance(10);
        assert_eq!(c.now(), t + 10);
        assert_eq!(c.clone().now(), t + 10, "clones share the offset");
    }
}
