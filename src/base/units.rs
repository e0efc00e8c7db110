//! Values as people write them in scenario files: "30s", "2m", "500kbps", "5%".
//!
//! Each type validates while it deserializes, so a bad value is reported by the TOML parser with
//! the exact line and column of the offending value.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A non-negative duration written with a unit ("500ms", "30s", "2m", "1h 30m").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
    pub fn as_micros(&self) -> u64 {
        self.0.as_micros() as u64
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "duration \"{text}\" is negative; durations must be 0 or more"
        ));
    }
    if trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') && !trimmed.is_empty() {
        return Err(format!(
            "duration \"{text}\" has no unit; write e.g. \"{trimmed}s\" or \"{trimmed}ms\""
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        format!("\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"30s\", \"2m\"")
    })
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"30s\" or \"500ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write it as a string, e.g. \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write it as a string, e.g. \"{v}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A bit rate ("500kbps", "1.5Mbps", "64000bps"), stored in bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bitrate(pub u64);

impl Bitrate {
    pub fn bps(&self) -> u64 {
        self.0
    }
    pub fn kbps(&self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

pub fn parse_bitrate(text: &str) -> Result<u64, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = compact.to_ascii_lowercase();
    let hint = "write e.g. \"500kbps\", \"1.5Mbps\" or \"64000bps\"";
    let (number, multiplier) = if let Some(n) = lower.strip_suffix("gbps") {
        (n, 1e9)
    } else if let Some(n) = lower.strip_suffix("mbps") {
        (n, 1e6)
    } else if let Some(n) = lower.strip_suffix("kbps") {
        (n, 1e3)
    } else if let Some(n) = lower.strip_suffix("bps") {
        (n, 1.0)
    } else if lower.parse::<f64>().is_ok() {
        return Err(format!("bit rate \"{text}\" has no unit; {hint}"));
    } else {
        return Err(format!("\"{text}\" is not a bit rate; {hint}"));
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a bit rate; {hint}"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("bit rate \"{text}\" must be greater than zero"));
    }
    Ok((value * multiplier).round() as u64)
}

impl<'de> Deserialize<'de> for Bitrate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bitrate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bit rate string such as \"500kbps\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bitrate, E> {
                parse_bitrate(v).map(Bitrate).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bitrate, E> {
                Err(E::custom(format!(
                    "bit rate {v} has no unit; write it as a string, e.g. \"{v}kbps\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Bitrate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}bps", self.0))
    }
}

/// A size in bytes ("1MiB", "512KiB", "64kB", "4096B").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let hint = "write e.g. \"1MiB\", \"512KiB\" or \"4096B\"";
    let units: [(&str, u64); 7] = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("kB", 1_000),
        ("B", 1),
    ];
    let Some((number, multiplier)) = units
        .iter()
        .find_map(|(unit, m)| compact.strip_suffix(unit).map(|n| (n, *m)))
    else {
        return Err(format!("\"{text}\" is not a size with a unit; {hint}"));
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a whole number of bytes; {hint}"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("\"{text}\" is too large"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_bytes(&text).map(ByteSize).map_err(de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}B", self.0))
    }
}

/// A percentage from 0 to 100, written "5%" or as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(pub f64);

impl Percent {
    pub fn fraction(&self) -> f64 {
        self.0 / 100.0
    }
}

fn check_percent(value: f64, text: &str) -> Result<Percent, String> {
    if !value.is_finite() || !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "{text} is out of range; a percentage must be from 0 to 100"
        ));
    }
    Ok(Percent(value))
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as \"5%\" or 5")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                let number = v.trim().trim_end_matches('%').trim();
                let value: f64 = number.parse().map_err(|_| {
                    E::custom(format!("\"{v}\" is not a percentage; write e.g. \"5%\""))
                })?;
                check_percent(value, &format!("\"{v}\"")).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                check_percent(v, &v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                check_percent(v as f64, &v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0))
    }
}

/// A string schema for a unit type of run.json and scenario files.
fn unit_schema(name: &'static str, description: &str, examples: &[&str]) -> schemars::Schema {
    let mut schema = schemars::json_schema!({
        "type": "string",
        "description": description,
        "examples": examples,
    });
    schema.insert("title".into(), name.into());
    schema
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HumanDuration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        unit_schema(
            "HumanDuration",
            "A duration with units.",
            &["30s", "1s 500ms", "2m"],
        )
    }
}

impl schemars::JsonSchema for Bitrate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bitrate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        unit_schema("Bitrate", "A bit rate in bits per second.", &["600000bps"])
    }
}

impl schemars::JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        unit_schema("Percent", "A percentage from 0 to 100.", &["5%"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn bitrates_read_as_written() {
        assert_eq!(parse_bitrate("500kbps").unwrap(), 500_000);
        assert_eq!(parse_bitrate("1.5Mbps").unwrap(), 1_500_000);
        assert_eq!(parse_bitrate("64000 bps").unwrap(), 64_000);
        assert!(parse_bitrate("0kbps").is_err());
        assert!(parse_bitrate("fast").is_err());
        assert!(parse_bitrate("500").unwrap_err().contains("no unit"));
    }

    #[test]
    fn percentages_are_bounded() {
        #[derive(Deserialize)]
        struct T {
            p: Percent,
        }
        assert_eq!(toml::from_str::<T>("p = \"5%\"").unwrap().p.0, 5.0);
        assert_eq!(toml::from_str::<T>("p = 12.5").unwrap().p.0, 12.5);
        assert!(toml::from_str::<T>("p = \"120%\"").is_err());
        assert!(toml::from_str::<T>("p = -1").is_err());
    }

    #[test]
    fn sizes_take_binary_and_decimal_units_and_refuse_bare_numbers() {
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("64 kB"), Ok(64_000));
        assert_eq!(parse_bytes("4096B"), Ok(4096));
        assert!(parse_bytes("4096").unwrap_err().contains("with a unit"));
        assert!(parse_bytes("1.5MiB").unwrap_err().contains("whole number"));
        assert!(parse_bytes("99999999999GiB")
            .unwrap_err()
            .contains("too large"));
    }
}
