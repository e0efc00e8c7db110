//! HdrHistograms in run.json: V2 compressed encoding in base64, exact to merge.

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub const SIGNIFICANT_DIGITS: u8 = 3;

pub fn new_histogram() -> Histogram<u64> {
    // Auto-resizing, so any value fits.
    Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is a valid precision")
}

#[derive(Debug, Clone)]
pub struct SerHistogram(pub Histogram<u64>);

/// Equal when they hold the same samples, whatever range each has grown to.
impl PartialEq for SerHistogram {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        a.len() == b.len()
            && a.iter_recorded().zip(b.iter_recorded()).all(|(x, y)| {
                x.value_iterated_to() == y.value_iterated_to()
                    && x.count_at_value() == y.count_at_value()
            })
    }
}

impl Default for SerHistogram {
    fn default() -> Self {
        Self(new_histogram())
    }
}

impl schemars::JsonSchema for SerHistogram {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Histogram".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "contentEncoding": "base64",
            "description": "An HdrHistogram in its V2 deflate serialisation, base64-encoded: the metric's values times its `scale`. Merge by adding histograms, never by averaging percentiles.",
        })
    }
}

impl Serialize for SerHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| serde::ser::Error::custom(format!("histogram encoding: {e:?}")))?;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// A serialised histogram's bytes and the histogram they hold, its lengths checked.
fn decode_field<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<(Vec<u8>, Histogram<u64>), D::Error> {
    let text = String::deserialize(d)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| serde::de::Error::custom(format!("histogram is not base64: {e}")))?;
    let h = super::histogram_bytes::decode(&bytes)
        .map_err(|e| serde::de::Error::custom(format!("histogram {e}")))?;
    Ok((bytes, h))
}

impl<'de> Deserialize<'de> for SerHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (_, mut h) = decode_field(d)?;
        h.auto(true);
        Ok(SerHistogram(h))
    }
}

/// A histogram kept as its V2-deflate encoding: what a closed interval's samples cost in
/// memory (tens of bytes, where a live HdrHistogram holds 16 to 60 kB of counters however few
/// samples it has). Serialized exactly as [`SerHistogram`] is.
#[derive(Debug, Clone)]
pub struct PackedHistogram {
    bytes: Vec<u8>,
    /// How many samples it holds, without unpacking.
    count: u64,
}

impl PackedHistogram {
    pub fn pack(h: &Histogram<u64>) -> Self {
        let mut bytes = Vec::new();
        // Encoding into memory fails only for a histogram no recorder makes; it packs empty.
        if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
            return Self::default();
        }
        bytes.shrink_to_fit();
        Self {
            bytes,
            count: h.len(),
        }
    }

    /// The histogram, auto-resizing again.
    pub fn unpack(&self) -> Histogram<u64> {
        match super::histogram_bytes::decode(&self.bytes) {
            Ok(mut h) => {
                h.auto(true);
                h
            }
            Err(_) => new_histogram(),
        }
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    /// What it takes in memory.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Equal when they hold the same samples, however each was encoded.
impl PartialEq for PackedHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && SerHistogram(self.unpack()) == SerHistogram(other.unpack())
    }
}

impl Default for PackedHistogram {
    fn default() -> Self {
        Self::pack(&new_histogram())
    }
}

impl schemars::JsonSchema for PackedHistogram {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        SerHistogram::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SerHistogram::json_schema(generator)
    }
}

impl Serialize for PackedHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.bytes))
    }
}

impl<'de> Deserialize<'de> for PackedHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Decoded once, with its lengths checked; the bytes that passed are kept as they are
        // (packing them again cost most of a 64-shard merge's time).
        let (bytes, h) = decode_field(d)?;
        Ok(Self {
            bytes,
            count: h.len(),
        })
    }
}
