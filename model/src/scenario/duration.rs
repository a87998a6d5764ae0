//! Durations as scenarios write them: `250ms`, `5s`, `2m`, `1h`, `90d` (decimals allowed:
//! `1.5s`).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// A duration written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// Seconds, rounded down.
    pub fn secs(self) -> u64 {
        self.0.as_secs()
    }

    /// Seconds, rounded up (for protocol fields that are whole seconds).
    pub fn secs_ceil(self) -> u64 {
        let s = self.0.as_secs();
        if self.0.subsec_nanos() > 0 {
            s + 1
        } else {
            s
        }
    }

    /// Milliseconds.
    pub fn millis(self) -> u128 {
        self.0.as_millis()
    }
}

/// The longest duration accepted: 365 days.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// Parses `250ms`, `5s`, `1.5s`, `2m`, `1h`, `90d` (0 to [`MAX`]).
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "'{s}' is negative: a duration is 0 or more, like 250ms, 5s, 2m, 1h or 90d"
        ));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| {
            format!("'{s}' has no unit: expected a duration like 250ms, 5s, 2m, 1h or 90d")
        })?;
    let (num, unit) = t.split_at(split);
    if unit.starts_with(char::is_whitespace) {
        return Err(format!(
            "'{s}' has a space before its unit: write it without one, like 5s or 250ms"
        ));
    }
    if !num.is_empty()
        && unit.starts_with(['e', 'E'])
        && unit[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    {
        return Err(format!(
            "'{s}' has an exponent: write the number out, like 250ms or 90d (at most 365d)"
        ));
    }
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration: expected a number then ms, s, m, h or d"))?;
    let mult = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "'{s}' has the unit '{other}': expected ms, s, m, h or d"
            ))
        }
    };
    let secs = n * mult;
    if !secs.is_finite() || !(0.0..=MAX.as_secs_f64()).contains(&secs) {
        return Err(format!("'{s}' is too long: a duration is at most 365d"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) || ms == 0 {
            write!(f, "{ms}ms")
        } else if ms.is_multiple_of(3_600_000) {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map(Dur).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$",
            "description": "A duration: 250ms, 5s, 1.5s, 2m, 1h, 90d (at most 365d)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("28h"), Ok(Duration::from_secs(28 * 3600)));
        assert!(parse("5").is_err());
        assert!(parse("5 seconds").is_err());
        assert!(parse("s").is_err());
        assert!(parse("1e400s").is_err());
        assert_eq!(parse("365d"), Ok(MAX));
        for (bad, says) in [
            ("366d", "at most 365d"),
            ("99999999999h", "at most 365d"),
            ("1e400s", "exponent"),
            ("-5s", "negative"),
            ("9".repeat(400).as_str(), "no unit"),
            (format!("{}s", "9".repeat(400)).as_str(), "at most 365d"),
        ] {
            let e = parse(bad).err().unwrap_or_default();
            assert!(e.contains(says), "{bad}: {e}");
        }
        for s in ["250ms", "5s", "2m", "1h", "1500ms"] {
            assert_eq!(Dur(parse(s).unwrap_or_default()).to_string(), s);
        }
        assert_eq!(Dur(Duration::from_millis(1500)).secs_ceil(), 2);
    }
}
