//! Wall-clock time that follows tokio's clock.
//!
//! Outside a paused runtime this is the system's wall clock. On tokio's paused clock (a test
//! on virtual time) it moves with the virtual time: the wall clock plus how far tokio's clock
//! is from the real monotonic one. So the mock's token lifetimes, a client's cache expiry and
//! the timers of a scenario agree whether an hour passes for real or in a millisecond.
//!
//! Everything in tokenstorm that reads the wall clock reads it here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far tokio's clock is ahead of (positive) or behind the real monotonic clock, in
/// microseconds: 0 unless the clock is paused.
fn offset_us() -> i128 {
    // tokio's first: unpaused, it reads the same clock a moment before, so the offset rounds
    // to nothing.
    let virt = tokio::time::Instant::now().into_std();
    let real = std::time::Instant::now();
    if virt >= real {
        virt.duration_since(real).as_micros() as i128
    } else {
        -(real.duration_since(virt).as_micros() as i128)
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_now_us() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0);
    // Unpaused, the offset is the few microseconds between the readings. It is applied all the
    // same: cutting it to 0 below a threshold made a paused clock jump back by up to that
    // threshold once real time had run past it.
    (wall + offset_us()).max(0) as u64
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    unix_now_us() / 1_000
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    unix_now_us() / 1_000_000
}

/// Now, as a [`SystemTime`].
pub fn system_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(unix_now_us())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaused_it_is_the_wall_clock() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        assert!(unix_now_ms().abs_diff(wall) < 50);
    }

    #[tokio::test(start_paused = true)]
    async fn paused_it_moves_with_virtual_time() {
        let before = unix_now_ms();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let after = unix_now_ms();
        // An hour passed on the virtual clock, a moment on the real one (the readings' few
        // microseconds apart can round the difference down a millisecond).
        assert!(
            (3_599_999..3_601_000).contains(&(after - before)),
            "{}",
            after - before
        );
    }
}
