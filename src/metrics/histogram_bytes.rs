//! Reading an HdrHistogram from outside (run.json) with every length checked before anything is
//! allocated or inflated: a 56-character histogram that declares a 4 GB payload, or a small
//! zlib bomb, is refused with the reason instead of aborting or stalling the process.

use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::io::Read;

/// The V2 encoding's cookie, and its deflate-compressed wrapper's (HdrHistogram's format); bits
/// 4 to 7 carry a word size that readers ignore.
const V2_COOKIE: u32 = 0x1c84_9303;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9304;
const WORD_SIZE_BITS: u32 = 0xf0;

fn cookie(bytes: &[u8]) -> u32 {
    be_u32(bytes, 0) & !WORD_SIZE_BITS
}
/// Cookie and payload length, normalising offset, significant digits, lowest and highest
/// trackable values, and the conversion ratio.
const V2_HEADER: usize = 40;
/// The most a histogram may inflate to: one of 3 significant digits spanning all of u64 is at
/// most about 0.5 MB encoded.
pub const MAX_INFLATED: usize = 4 << 20;
/// The most counters a histogram may ask for (8 bytes each): 3 significant digits over the
/// whole u64 range need about 56,000.
pub const MAX_COUNTS: u64 = 1 << 20;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HistogramBytesError {
    #[error("{0} bytes are too few for a histogram")]
    Truncated(usize),
    #[error("not an HdrHistogram V2 encoding (cookie {0:#010x})")]
    Cookie(u32),
    #[error("declares {declared} {what} bytes but holds {held}")]
    Declared {
        what: &'static str,
        declared: u64,
        held: usize,
    },
    #[error("inflates past {MAX_INFLATED} bytes")]
    Inflated,
    #[error("does not inflate: {0}")]
    Deflate(String),
    #[error("{0} significant digits (1 to 5 are allowed)")]
    Digits(u32),
    #[error("its range {lowest}..{highest} at {digits} digits needs {counts} counters, over {MAX_COUNTS}")]
    Range {
        lowest: u64,
        highest: u64,
        digits: u32,
        counts: u64,
    },
    #[error("does not decode: {0}")]
    Decode(String),
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// Decodes a V2 or V2-deflate histogram, checking the declared and inflated lengths and the
/// size of the counts array first.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, HistogramBytesError> {
    if bytes.len() < 8 {
        return Err(HistogramBytesError::Truncated(bytes.len()));
    }
    let plain = match cookie(bytes) {
        V2_DEFLATE_COOKIE => inflate(bytes)?,
        V2_COOKIE => bytes.to_vec(),
        other => return Err(HistogramBytesError::Cookie(other)),
    };
    check_v2(&plain)?;
    Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| HistogramBytesError::Decode(format!("{e:?}")))
}

/// The V2 bytes inside a deflate wrapper, inflated no further than [`MAX_INFLATED`].
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, HistogramBytesError> {
    let declared = be_u32(bytes, 4) as u64;
    let compressed = &bytes[8..];
    if declared > compressed.len() as u64 {
        return Err(HistogramBytesError::Declared {
            what: "compressed",
            declared,
            held: compressed.len(),
        });
    }
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&compressed[..declared as usize])
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| HistogramBytesError::Deflate(e.to_string()))?;
    if plain.len() > MAX_INFLATED {
        return Err(HistogramBytesError::Inflated);
    }
    Ok(plain)
}

/// Checks a V2 header against what follows it and against [`MAX_COUNTS`].
fn check_v2(plain: &[u8]) -> Result<(), HistogramBytesError> {
    if plain.len() < V2_HEADER {
        return Err(HistogramBytesError::Truncated(plain.len()));
    }
    match cookie(plain) {
        V2_COOKIE => {}
        other => return Err(HistogramBytesError::Cookie(other)),
    }
    let declared = be_u32(plain, 4) as u64;
    let held = plain.len() - V2_HEADER;
    if declared > held as u64 {
        return Err(HistogramBytesError::Declared {
            what: "payload",
            declared,
            held,
        });
    }
    let digits = be_u32(plain, 12);
    if !(1..=5).contains(&digits) {
        return Err(HistogramBytesError::Digits(digits));
    }
    let (lowest, highest) = (be_u64(plain, 16).max(1), be_u64(plain, 24));
    let counts = counts_needed(lowest, highest, digits);
    if counts > MAX_COUNTS {
        return Err(HistogramBytesError::Range {
            lowest,
            highest,
            digits,
            counts,
        });
    }
    Ok(())
}

/// How many counters HdrHistogram allocates for `lowest..=highest` at `digits` significant
/// digits (its own sizing rule: buckets of sub-buckets, each bucket twice the last's span).
fn counts_needed(lowest: u64, highest: u64, digits: u32) -> u64 {
    let largest_single_unit = 2 * 10u64.pow(digits);
    let sub_bucket_count = largest_single_unit.next_power_of_two();
    let unit_magnitude = 63 - lowest.leading_zeros();
    let mut smallest_untrackable = (sub_bucket_count as u128) << unit_magnitude;
    let mut buckets = 1u64;
    while smallest_untrackable <= highest as u128 {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    (buckets + 1) * (sub_bucket_count / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};

    fn sample() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        for v in [1u64, 7, 1000, 250_000, 3_600_000_000] {
            h.record(v).expect("record");
        }
        h
    }

    #[test]
    fn both_encodings_decode_to_the_same_samples() {
        let h = sample();
        for compressed in [false, true] {
            let mut bytes = Vec::new();
            match compressed {
                true => V2DeflateSerializer::new()
                    .serialize(&h, &mut bytes)
                    .map(drop)
                    .expect("encode"),
                false => V2Serializer::new()
                    .serialize(&h, &mut bytes)
                    .map(drop)
                    .expect("encode"),
            }
            let back = decode(&bytes).expect("decodes");
            assert_eq!(back.len(), h.len());
            assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
            assert_eq!(back.max(), h.max());
        }
    }

    #[test]
    fn a_declared_payload_past_the_bytes_is_refused_before_allocating() {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&sample(), &mut bytes)
            .expect("encode");
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = decode(&bytes).expect_err("4 GB declared");
        assert!(
            matches!(e, HistogramBytesError::Declared { what: "payload", declared, .. } if declared == u32::MAX as u64),
            "{e}"
        );
    }

    #[test]
    fn a_declared_compressed_length_past_the_bytes_is_refused() {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&sample(), &mut bytes)
            .expect("encode");
        bytes[4..8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        let e = decode(&bytes).expect_err("declared");
        assert!(
            matches!(
                e,
                HistogramBytesError::Declared {
                    what: "compressed",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_zlib_bomb_stops_inflating_at_the_limit() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&V2_COOKIE.to_be_bytes()).expect("cookie");
        z.write_all(&vec![0u8; 64 << 20]).expect("zeros");
        let compressed = z.finish().expect("finish");
        let mut bytes = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&compressed);
        assert!(bytes.len() < 128 << 10, "{} bytes", bytes.len());
        assert_eq!(
            decode(&bytes).expect_err("bomb"),
            HistogramBytesError::Inflated
        );
    }

    #[test]
    fn a_range_that_needs_too_many_counters_is_refused() {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&sample(), &mut bytes)
            .expect("encode");
        // 5 significant digits over all of u64: about 6 million counters.
        bytes[12..16].copy_from_slice(&5u32.to_be_bytes());
        bytes[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
        let e = decode(&bytes).expect_err("too wide");
        assert!(
            matches!(e, HistogramBytesError::Range { counts, .. } if counts > MAX_COUNTS),
            "{e}"
        );
        assert!(counts_needed(1, u64::MAX, 3) < 60_000);
    }

    #[test]
    fn short_and_foreign_bytes_are_refused() {
        assert!(matches!(
            decode(&[1, 2, 3]),
            Err(HistogramBytesError::Truncated(3))
        ));
        assert!(matches!(
            decode(&[0u8; 48]),
            Err(HistogramBytesError::Cookie(0))
        ));
    }
}
