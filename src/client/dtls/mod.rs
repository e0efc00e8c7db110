//! DTLS for rtcbench's own peers, offered as a browser offers it: ECDHE key exchange with AES-GCM
//! (then ChaCha20 and the CBC suites browsers still list), for a far side whose certificate is
//! either ECDSA or RSA. RFC 8827 requires ECDHE_RSA, and many servers (Medooze by default, older
//! media servers, SIP gateways) present RSA certificates.
//!
//! str0m's own DTLS (dimpl) cannot verify an RSA signature in DTLS 1.2 and offers only
//! ECDHE_ECDSA suites, and str0m's OpenSSL backend for str0m 0.25 is not published where this
//! project builds. So the DTLS handshake runs on OpenSSL (Debian's libssl, the library most
//! media servers use) behind str0m's `DtlsProvider` trait, and everything else (SRTP, hashing,
//! STUN) stays on str0m's aws-lc-rs provider. Our own certificate stays ECDSA P-256, as a
//! browser's is.

mod instance;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::ssl::{SslContext, SslContextBuilder, SslMethod, SslOptions, SslVerifyMode};
use openssl::x509::{X509NameBuilder, X509};
use str0m::crypto::dtls::{DtlsCert, DtlsInstance, DtlsProvider, DtlsVersion, SrtpProfile};
use str0m::crypto::{CryptoError, CryptoProvider};

pub use instance::OpensslDtls;

/// Chrome's DTLS 1.2 offer, in its order: ECDHE only, so every session has forward secrecy.
const BROWSER_CIPHER_SUITES: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";

/// The SRTP profiles, most preferred first, named as OpenSSL names them.
const SRTP_PROFILES: &str = "SRTP_AEAD_AES_128_GCM:SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_80";

/// str0m's aws-lc-rs provider with the DTLS handshake on OpenSSL. Built once per process.
pub fn browser_like_provider() -> Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            static DTLS: OpensslDtlsProvider = OpensslDtlsProvider;
            let mut provider = str0m::crypto::from_feature_flags();
            provider.dtls_provider = &DTLS;
            Arc::new(provider)
        })
        .clone()
}

/// Makes OpenSSL DTLS sessions; certificates come from str0m's default provider (ECDSA P-256).
#[derive(Debug)]
struct OpensslDtlsProvider;

impl DtlsProvider for OpensslDtlsProvider {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        if dtls_version != DtlsVersion::Dtls12 {
            return Err(CryptoError::Other(format!(
                "rtcbench's OpenSSL DTLS speaks DTLS 1.2 only (browsers' version), not {dtls_version}"
            )));
        }
        let context = context(cert).map_err(|e| CryptoError::Other(e.to_string()))?;
        let session =
            OpensslDtls::new(&context, now, mtu).map_err(|e| CryptoError::Other(e.to_string()))?;
        Ok(Box::new(session))
    }
}

fn context(cert: &DtlsCert) -> Result<SslContext, openssl::error::ErrorStack> {
    Ok(context_builder(cert)?.build())
}

fn context_builder(cert: &DtlsCert) -> Result<SslContextBuilder, openssl::error::ErrorStack> {
    let mut builder = SslContextBuilder::new(SslMethod::dtls())?;
    builder.set_cipher_list(BROWSER_CIPHER_SUITES)?;
    builder.set_tlsext_use_srtp(SRTP_PROFILES)?;
    builder.set_groups_list("X25519:P-256:P-384")?;
    // Identity is the SDP fingerprint, which str0m checks against the certificate we report;
    // a self-signed certificate is what every WebRTC peer sends, so OpenSSL accepts any.
    builder.set_verify_callback(
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        |_, _| true,
    );
    let certificate = X509::from_der(&cert.certificate)?;
    let key = PKey::private_key_from_der(&cert.private_key)?;
    builder.set_certificate(&certificate)?;
    builder.set_private_key(&key)?;
    builder.check_private_key()?;
    // The MTU is the one str0m gives; ICE has already proven the path, so no cookie exchange.
    builder.set_options(SslOptions::NO_DTLSV1 | SslOptions::NO_QUERY_MTU);
    Ok(builder)
}

fn srtp_profile(name: &str) -> Option<SrtpProfile> {
    match name {
        "SRTP_AEAD_AES_128_GCM" => Some(SrtpProfile::AEAD_AES_128_GCM),
        "SRTP_AEAD_AES_256_GCM" => Some(SrtpProfile::AEAD_AES_256_GCM),
        "SRTP_AES128_CM_SHA1_80" => Some(SrtpProfile::AES128_CM_SHA1_80),
        _ => None,
    }
}

/// A self-signed RSA-2048 certificate, as Medooze and many older servers present: for the
/// embedded SFU's test-only switch that makes it such a server.
pub fn rsa_certificate() -> Result<DtlsCert, openssl::error::ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "rtcbench-rsa")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(63, MsbOption::MAYBE_ZERO, false)?;
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok(DtlsCert {
        certificate: cert.build().to_der()?,
        private_key: key.private_key_to_der()?,
    })
}
