//! Range checks made while reading, so an out-of-range number or a zero duration is refused
//! at the value's own line and column, with the allowed range named, instead of overflowing
//! (`invalid u32`) or being accepted and meaning nothing (`every: 0s`).

use super::Dur;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// The most times a step may repeat (`repeat.count`, or `repeat.for` over `repeat.every`).
pub const MAX_REPEAT: u64 = 100_000;
/// The most copies of a step sent at once (`concurrency`).
pub const MAX_CONCURRENCY: u64 = 1_000;
/// The most groups the user may be in (`tokens.groups`, a `set_groups` event): the mock
/// generates each one.
pub const MAX_GROUPS: u64 = 10_000;
/// The most bytes per piece of a `dribble`.
pub const MAX_DRIBBLE_BYTES: u64 = 1024 * 1024;

/// A whole number in `min..=max`, read from whatever the YAML scalar turned out to be, so a
/// number too big for the field's type still gets a message that names the range.
struct Whole {
    field: &'static str,
    min: u64,
    max: u64,
}

impl Whole {
    fn out_of_range<E: de::Error>(&self, shown: impl fmt::Display) -> E {
        E::custom(format!(
            "`{}` is {shown}: it must be a whole number from {} to {}",
            self.field, self.min, self.max
        ))
    }
}

impl<'de> Visitor<'de> for Whole {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a whole number from {} to {}", self.min, self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.fract() == 0.0 && v >= 0.0 && v <= self.max as f64 {
            // In range and whole, so the conversion is exact.
            self.visit_u64(v as u64)
        } else if v.abs() >= 9_007_199_254_740_992.0 {
            // Past 2^53 the float no longer shows what was written.
            Err(self.out_of_range(if v > 0.0 { "too large" } else { "too small" }))
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        let t = v.trim();
        if let Ok(u) = t.parse::<u64>() {
            return self.visit_u64(u);
        }
        let numeric = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E' | '_'));
        if numeric {
            Err(self.out_of_range(t))
        } else {
            Err(E::invalid_type(de::Unexpected::Str(v), &self))
        }
    }
}

fn whole<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
    min: u64,
    max: u64,
) -> Result<u64, D::Error> {
    d.deserialize_any(Whole { field, min, max })
}

struct OptionalWhole(Whole);

impl<'de> Visitor<'de> for OptionalWhole {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        whole(d, self.0.field, self.0.min, self.0.max).map(Some)
    }
}

fn optional_whole<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, D::Error> {
    d.deserialize_option(OptionalWhole(Whole { field, min, max }))
}

macro_rules! whole_fields {
    ($($name:ident: $t:ty = $field:literal, $min:expr, $max:expr;)*) => {$(
        pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$t>, D::Error> {
            match optional_whole(d, $field, $min, $max)? {
                None => Ok(None),
                Some(v) => <$t>::try_from(v).map(Some).map_err(de::Error::custom),
            }
        }
    )*};
}

whole_fields! {
    repeat_count: u32 = "repeat.count", 1, MAX_REPEAT;
    concurrency: u32 = "concurrency", 1, MAX_CONCURRENCY;
    groups: usize = "groups", 0, MAX_GROUPS;
    status: u16 = "status", 100, 599;
    aadsts: u32 = "aadsts", 0, u32::MAX as u64;
    seed: u64 = "seed", 0, u64::MAX;
}

pub(crate) fn dribble_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = whole(d, "dribble.bytes", 1, MAX_DRIBBLE_BYTES)?;
    usize::try_from(v).map_err(de::Error::custom)
}

fn positive<E: de::Error>(d: Dur, field: &str) -> Result<Dur, E> {
    if d.0.is_zero() {
        Err(E::custom(format!(
            "`{field}` is zero: it must be longer than 0"
        )))
    } else {
        Ok(d)
    }
}

macro_rules! positive_durations {
    ($($name:ident = $field:literal;)*) => {$(
        pub(crate) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Dur>, D::Error> {
            Option::<Dur>::deserialize(d)?
                .map(|v| positive(v, $field))
                .transpose()
        }
    )*};
}

positive_durations! {
    access_token_lifetime = "access_token_lifetime";
    refresh_in = "refresh_in";
    refresh_token_lifetime = "refresh_token_lifetime";
    spa_refresh_token_lifetime = "spa_refresh_token_lifetime";
    cae_lifetime = "cae_lifetime";
    device_interval = "device_interval";
    device_code_lifetime = "device_code_lifetime";
    repeat_for = "repeat.for";
    outage_duration = "duration";
}

pub(crate) fn repeat_every<'de, D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
    positive(Dur::deserialize(d)?, "repeat.every")
}

pub(crate) fn dribble_every<'de, D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
    positive(Dur::deserialize(d)?, "dribble.every")
}
