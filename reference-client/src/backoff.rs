//! Per-endpoint politeness: Retry-After and exponential back-off from 5 s.

use std::time::Duration;
use tokio::time::Instant;

/// The state of one endpoint.
#[derive(Debug, Default, Clone)]
pub struct Gate {
    /// Consecutive transient failures.
    pub(crate) failures: u32,
    /// No request before this.
    pub(crate) blocked_until: Option<Instant>,
    /// Deliberate breakage for the harness's zoo of broken clients (never set in production).
    pub(crate) ignore_retry_after: bool,
    /// Deliberate breakage: no back-off.
    pub(crate) no_backoff: bool,
}

/// A safety margin over what the server asked (its clock starts when it sent the answer,
/// ours when we read it, so ours is already later; the margin covers timer jitter).
const MARGIN: Duration = Duration::from_millis(150);

impl Gate {
    /// How long until a request may be sent (zero: now).
    pub fn wait(&self, now: Instant) -> Duration {
        self.blocked_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// A success: the streak ends.
    pub fn success(&mut self) {
        self.failures = 0;
        self.blocked_until = None;
    }

    /// The server said when to come back.
    pub fn retry_after(&mut self, now: Instant, wait: Duration) {
        if self.ignore_retry_after {
            return;
        }
        self.blocked_until = Some(now + wait + MARGIN);
    }

    /// A transient failure without Retry-After: the k-th in a row blocks min(5·2^(k−1), 60) s.
    pub fn failure(&mut self, now: Instant) {
        if self.no_backoff {
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let secs = (5u64 << (self.failures - 1).min(4)).min(60);
        self.blocked_until = Some(now + Duration::from_secs(secs) + MARGIN);
    }
}

/// Parses Retry-After: delta-seconds or an HTTP-date (relative to the response's Date when
/// given, else to now).
pub fn parse_retry_after(value: &str, date: Option<&str>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let base = date
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(model::clock::system_now);
    Some(at.duration_since(base).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_and_caps() {
        let mut g = Gate::default();
        let now = Instant::now();
        g.failure(now);
        assert_eq!(g.wait(now), Duration::from_secs(5) + MARGIN);
        g.failure(now);
        assert_eq!(g.wait(now), Duration::from_secs(10) + MARGIN);
        for _ in 0..10 {
            g.failure(now);
        }
        assert_eq!(g.wait(now), Duration::from_secs(60) + MARGIN);
        g.success();
        assert_eq!(g.wait(now), Duration::ZERO);
        g.retry_after(now, Duration::from_secs(60));
        // A 60 s Retry-After costs no wall time on the paused clock.
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(g.wait(Instant::now()), Duration::ZERO);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3", None), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(
                "Tue, 24 Nov 2026 15:00:10 GMT",
                Some("Tue, 24 Nov 2026 15:00:00 GMT")
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", None), None);
    }
}
