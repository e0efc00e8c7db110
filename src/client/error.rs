//! What can go wrong with a native peer, said so a user can act on it: a DTLS handshake failure
//! names the likely cause (a cipher suite or certificate type the two sides do not share), not
//! only the alert number.

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("WebRTC: {}", explain_rtc(.0))]
    Rtc(#[from] str0m::RtcError),
    #[error("SDP answer is not valid: {0}")]
    BadAnswer(String),
    #[error("SDP answer does not accept our {0}")]
    Rejected(&'static str),
    #[error("local candidate {0} refused")]
    Candidate(String),
    #[error("media: {0}")]
    Media(#[from] crate::media::codec::CodecError),
    #[error("ICE/DTLS did not connect within {0:?}")]
    ConnectTimeout(std::time::Duration),
    #[error("light viewer: {0}")]
    Light(#[from] super::light::peer::LightError),
}

/// What rtcbench's DTLS offers, for the explanations below.
const OUR_DTLS: &str = "rtcbench offers what browsers offer: DTLS 1.2, TLS_ECDHE_ECDSA and TLS_ECDHE_RSA with AES-GCM, ChaCha20 or AES-CBC, and an EC P-256 certificate of its own; a server that wants a suite without ECDHE, or DTLS 1.0, is refused";

fn explain_rtc(e: &str0m::RtcError) -> String {
    let text = e.to_string();
    match dtls_cause(&text) {
        Some(cause) => format!("{text} ({cause})"),
        None => text,
    }
}

/// The likely cause of a DTLS failure, from str0m's message.
fn dtls_cause(text: &str) -> Option<String> {
    if text.contains("no mutually acceptable cipher suite") {
        return Some(format!(
            "the far side offered no cipher suite we accept: {OUR_DTLS}"
        ));
    }
    if text.contains("unsupported signature algorithm: RSA") {
        return Some(format!(
            "the far side's certificate is RSA, which str0m's own DTLS (the embedded SFU's) cannot verify; rtcbench's clients can: {OUR_DTLS}"
        ));
    }
    let alert: u8 = text
        .split("description=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let why = match alert {
        40 => format!(
            "alert 40, handshake_failure: the far side shares no cipher suite, group or certificate type with us; {OUR_DTLS}"
        ),
        71 => format!(
            "alert 71, insufficient_security: the far side wants a cipher suite we did not offer; {OUR_DTLS}"
        ),
        42 | 43 => format!("alert {alert}: the far side refused our certificate"),
        47 => "alert 47, illegal_parameter: the far side rejected a handshake field".into(),
        70 => "alert 70, protocol_version: the far side does not speak DTLS 1.2".into(),
        80 => "alert 80, internal_error: the far side failed on its own".into(),
        n => format!("alert {n} from the far side"),
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_40_names_the_certificate_and_suites() {
        let why = dtls_cause("DTLS error: security error: received fatal alert: description=40")
            .expect("explained");
        assert!(why.contains("handshake_failure"), "{why}");
        assert!(why.contains("TLS_ECDHE_RSA"), "{why}");
    }

    #[test]
    fn an_rsa_signature_is_named_and_other_errors_are_left_alone() {
        let why = dtls_cause("DTLS error: crypto error: unsupported signature algorithm: RSA")
            .expect("explained");
        assert!(why.contains("certificate is RSA"), "{why}");
        assert_eq!(dtls_cause("ICE: no candidate pair"), None);
    }
}
