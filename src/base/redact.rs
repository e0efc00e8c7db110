//! Blanking secrets out of text we store or print, in every form a server or library may echo
//! them back in: as they are in any letter case, percent-encoded (wholly or in part, either hex
//! case, `+` for a space), and base64 (standard or URL-safe, padded or not) of the value alone or
//! inside a longer encoded string such as HTTP Basic's `user:value`.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// What a secret is replaced with.
pub const BLANK: &str = "***";

/// Shorter secrets are not searched for inside base64: a few characters would match by chance.
const MIN_BASE64_SECRET: usize = 6;

/// The secrets of one provider, ready to blank from any text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Matched byte by byte, each byte as itself (any case) or percent-encoded.
    plain: Vec<Vec<u8>>,
    /// Matched exactly: base64 runs that appear whenever the secret is encoded.
    encoded: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.plain.len())
    }
}

impl Redactor {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut redactor = Redactor::default();
        for secret in secrets {
            let secret = secret.as_ref().as_bytes();
            if secret.is_empty() {
                continue;
            }
            redactor.plain.push(secret.to_vec());
            if secret.len() >= MIN_BASE64_SECRET {
                redactor.encoded.extend(base64_runs(secret));
            }
        }
        // Longest first, so a secret that contains another is blanked whole.
        redactor.plain.sort_by_key(|s| std::cmp::Reverse(s.len()));
        redactor.encoded.sort_by_key(|s| std::cmp::Reverse(s.len()));
        redactor.encoded.dedup();
        redactor
    }

    pub fn is_empty(&self) -> bool {
        self.plain.is_empty()
    }

    /// `text` with every form of every secret replaced by [`BLANK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = self
            .encoded
            .iter()
            .fold(text.to_string(), |t, run| t.replace(run.as_str(), BLANK));
        for secret in &self.plain {
            out = blank_plain(&out, secret);
        }
        out
    }
}

/// `text` with each run that spells `secret` (bytes as themselves in any ASCII case, or as
/// `%XX`, or `+` for a space) replaced.
fn blank_plain(text: &str, secret: &[u8]) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match spelled_at(bytes, i, secret) {
            Some(len) => {
                out.extend_from_slice(BLANK.as_bytes());
                i += len;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    // Only whole ASCII runs were replaced by ASCII, so the text stays UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// How many bytes of `text` from `start` spell `secret`, if they do.
fn spelled_at(text: &[u8], start: usize, secret: &[u8]) -> Option<usize> {
    let mut at = start;
    for &want in secret {
        let got = *text.get(at)?;
        if got.eq_ignore_ascii_case(&want) || (got == b'+' && want == b' ') {
            at += 1;
        } else if got == b'%' && escaped(text.get(at + 1..at + 3)?) == Some(want) {
            at += 3;
        } else {
            return None;
        }
    }
    Some(at - start)
}

fn escaped(hex: &[u8]) -> Option<u8> {
    let digits = std::str::from_utf8(hex).ok()?;
    u8::from_str_radix(digits, 16).ok()
}

/// The base64 characters that depend only on `secret`, for the secret starting at each of the
/// three byte offsets an encoding can put it at (so `user:secret` is covered whatever `user`
/// is), in both alphabets.
fn base64_runs(secret: &[u8]) -> Vec<String> {
    let mut runs = Vec::new();
    for offset in 0..3 {
        let mut input = vec![0u8; offset];
        input.extend_from_slice(secret);
        // Characters carrying any bit of the prefix, or of what follows, are not the secret's.
        let first = (offset * 8).div_ceil(6);
        let last = (input.len() * 8) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&input);
            if let Some(run) = encoded.get(first..last) {
                if run.len() >= 4 {
                    runs.push(run.to_string());
                }
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const SECRET: &str = "SK 91b2\"<x>";

    fn redactor() -> Redactor {
        Redactor::new([SECRET, "pub-token-7f3a"])
    }

    fn assert_blank(text: &str) {
        let out = redactor().redact(text);
        assert!(out.contains(BLANK), "nothing blanked in {text:?}: {out:?}");
        for leak in ["91b2", "7f3a", "91B2", "7F3A"] {
            assert!(
                !out.contains(leak),
                "{leak} left in {out:?} (from {text:?})"
            );
        }
    }

    #[test]
    fn raw_and_any_letter_case_are_blanked() {
        assert_blank(&format!("Bearer pub-token-7f3a, key {SECRET}"));
        assert_blank("echo: PUB-TOKEN-7F3A");
        assert_blank(&SECRET.to_lowercase());
    }

    #[test]
    fn percent_encoded_forms_are_blanked_whole_or_in_part() {
        assert_blank("https://h/SK%2091b2%22%3Cx%3E/whip");
        assert_blank("https://h/SK%2091b2%22%3cx%3e/whip");
        assert_blank("https://h/SK+91b2\"%3Cx>/whip");
        assert_blank("https://h/sk%2091B2%22%3cX%3E/whip");
    }

    #[test]
    fn base64_of_the_value_and_of_user_colon_value_is_blanked() {
        for value in [SECRET.to_string(), "pub-token-7f3a".to_string()] {
            for prefix in ["", "u:", "user:", "admin:"] {
                let plain = format!("{prefix}{value}");
                for encoded in [STANDARD.encode(&plain), URL_SAFE.encode(&plain)] {
                    let out = redactor().redact(&format!("Authorization: Basic {encoded}"));
                    assert!(
                        !out.contains(&encoded),
                        "{plain:?} as {encoded} left in {out:?}"
                    );
                    assert!(out.contains(BLANK), "{out:?}");
                }
            }
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        let text = "HTTP 500: room r1 is full (SK 91 of 2)";
        assert_eq!(redactor().redact(text), text);
        assert_eq!(Redactor::new(Vec::<String>::new()).redact("a b"), "a b");
        assert_eq!(Redactor::new([""]).redact("a b"), "a b");
        // Multi-byte text around a secret stays intact.
        assert_eq!(redactor().redact("é pub-token-7f3a ü"), "é *** ü");
    }
}
