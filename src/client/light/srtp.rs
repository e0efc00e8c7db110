//! SRTP and SRTCP for one DTLS-SRTP session (RFC 3711, RFC 7714), sans-IO: bytes in, bytes
//! out. The ciphers and the profiles' IV and tag arithmetic are str0m's crypto provider's (the
//! aws-lc-rs primitives str0m itself uses); what is here is the session around them: key
//! derivation, the rollover counter of each incoming stream, and the SRTCP index.
//!
//! There is no replay window: a light viewer counts duplicates itself (its RTP statistics), and
//! a window would hide them from it.

use crate::media::rtp::header_len;
use str0m::crypto::dtls::SrtpProfile;
use str0m::crypto::{AeadAes128Gcm, Aes128CmSha1_80, CryptoProvider};
use str0m::crypto::{AeadAes128GcmCipher, AeadAes256GcmCipher, Aes128CmSha1_80Cipher};
use str0m::crypto::{Sha1HmacProvider, SrtpProvider};

/// How many incoming SSRCs a session tracks (audio, video, their repair streams, simulcast
/// layers a server switches between); a flood of made-up SSRCs cannot grow it further.
const MAX_STREAMS: usize = 16;

const CM_TAG_LEN: usize = Aes128CmSha1_80::HMAC_TAG_LEN;
const GCM_TAG_LEN: usize = AeadAes128Gcm::TAG_LEN;
const RTCP_HEADER_LEN: usize = 8;
const SRTCP_INDEX_LEN: usize = 4;
const ENCRYPTED_FLAG: u32 = 0x8000_0000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("the DTLS keying material has {got} bytes; {profile:?} needs {needed}")]
    KeyingMaterial {
        profile: Profile,
        got: usize,
        needed: usize,
    },
    #[error("SRTP profile {0:?} is not one rtcbench offers")]
    UnsupportedProfile(SrtpProfile),
    #[error("a {0}-byte packet is too short for its header and SRTP tag")]
    TooShort(usize),
    #[error("the packet failed SRTP authentication")]
    Authentication,
    #[error("a packet from a new SSRC after {MAX_STREAMS} others")]
    TooManyStreams,
    #[error("the SRTP cipher failed: {0}")]
    Cipher(String),
}

/// The DTLS-SRTP profiles a browser offers, which rtcbench offers too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    AesCm128HmacSha1_80,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl Profile {
    pub fn from_dtls(profile: SrtpProfile) -> Result<Self, SrtpError> {
        match profile {
            SrtpProfile::AES128_CM_SHA1_80 => Ok(Self::AesCm128HmacSha1_80),
            SrtpProfile::AEAD_AES_128_GCM => Ok(Self::AeadAes128Gcm),
            SrtpProfile::AEAD_AES_256_GCM => Ok(Self::AeadAes256Gcm),
            other => Err(SrtpError::UnsupportedProfile(other)),
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AeadAes128Gcm => 16,
            Self::AeadAes256Gcm => 32,
        }
    }

    fn salt_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 14,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
        }
    }

    fn tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => CM_TAG_LEN,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => GCM_TAG_LEN,
        }
    }
}

/// One direction's master key and salt.
#[derive(Clone, Copy)]
pub struct MasterKey<'a> {
    pub key: &'a [u8],
    pub salt: &'a [u8],
}

/// The SRTP key derivation labels (RFC 3711 section 4.3.2).
#[derive(Clone, Copy)]
enum Label {
    RtpCipher = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpCipher = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// The session keys of one of RTP or RTCP, in one direction, with their cipher.
enum Keys {
    Cm {
        cipher: Box<dyn Aes128CmSha1_80Cipher>,
        auth: [u8; 20],
        salt: [u8; 14],
    },
    Gcm {
        cipher: GcmCipher,
        salt: [u8; 12],
    },
}

/// RFC 7714's two AEAD ciphers; they differ only in key length.
enum GcmCipher {
    Aes128(Box<dyn AeadAes128GcmCipher>),
    Aes256(Box<dyn AeadAes256GcmCipher>),
}

impl GcmCipher {
    fn encrypt(
        &mut self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), SrtpError> {
        let sealed = match self {
            Self::Aes128(c) => c.encrypt(iv, aad, input, out),
            Self::Aes256(c) => c.encrypt(iv, aad, input, out),
        };
        sealed.map_err(|e| SrtpError::Cipher(e.to_string()))
    }

    /// The plaintext's length; any failure is an authentication failure, as GCM cannot tell.
    fn decrypt(
        &mut self,
        iv: &[u8; 12],
        aads: &[&[u8]],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let opened = match self {
            Self::Aes128(c) => c.decrypt(iv, aads, input, out),
            Self::Aes256(c) => c.decrypt(iv, aads, input, out),
        };
        opened.map_err(|_| SrtpError::Authentication)
    }
}

/// Where an incoming stream's packets stand: the rollover counter and the highest sequence
/// number authenticated so far (RFC 3711 section 3.3.1).
#[derive(Clone, Copy)]
struct StreamIndex {
    ssrc: u32,
    roc: u32,
    highest_seq: u16,
}

impl StreamIndex {
    /// The rollover counter a packet with `seq` most likely carries (RFC 3711 appendix A).
    fn guess_roc(&self, seq: u16) -> u32 {
        let (highest, seq) = (i32::from(self.highest_seq), i32::from(seq));
        if highest < 32768 {
            match seq - highest > 32768 {
                true => self.roc.wrapping_sub(1),
                false => self.roc,
            }
        } else {
            match highest - 32768 > seq {
                true => self.roc.wrapping_add(1),
                false => self.roc,
            }
        }
    }

    fn index(roc: u32, seq: u16) -> u64 {
        (u64::from(roc) << 16) | u64::from(seq)
    }

    /// Moves on to an authenticated packet if it is the newest yet.
    fn advance(&mut self, roc: u32, seq: u16) {
        if Self::index(roc, seq) > Self::index(self.roc, self.highest_seq) {
            self.roc = roc;
            self.highest_seq = seq;
        }
    }
}

/// One DTLS-SRTP session: incoming SRTP and SRTCP from the far side, outgoing SRTCP to it.
pub struct SrtpSession {
    profile: Profile,
    hmac: &'static dyn Sha1HmacProvider,
    rtp_in: Keys,
    rtcp_in: Keys,
    rtp_out: Keys,
    rtcp_out: Keys,
    streams: Vec<StreamIndex>,
    srtcp_index: u32,
}

impl SrtpSession {
    /// From DTLS's exported keying material (RFC 5764 section 4.2: the client's key, the
    /// server's key, the client's salt, the server's salt). The far side writes with the keys
    /// of the role we do not have.
    pub fn from_keying_material(
        provider: &CryptoProvider,
        profile: Profile,
        material: &[u8],
        we_are_dtls_client: bool,
    ) -> Result<Self, SrtpError> {
        let (k, s) = (profile.key_len(), profile.salt_len());
        let needed = 2 * (k + s);
        if material.len() < needed {
            return Err(SrtpError::KeyingMaterial {
                profile,
                got: material.len(),
                needed,
            });
        }
        let client = MasterKey {
            key: &material[..k],
            salt: &material[2 * k..2 * k + s],
        };
        let server = MasterKey {
            key: &material[k..2 * k],
            salt: &material[2 * k + s..needed],
        };
        let (incoming, outgoing) = match we_are_dtls_client {
            true => (server, client),
            false => (client, server),
        };
        Self::new(provider, profile, incoming, outgoing)
    }

    pub fn new(
        provider: &CryptoProvider,
        profile: Profile,
        incoming: MasterKey<'_>,
        outgoing: MasterKey<'_>,
    ) -> Result<Self, SrtpError> {
        for master in [incoming, outgoing] {
            let (got, needed) = (
                master.key.len() + master.salt.len(),
                profile.key_len() + profile.salt_len(),
            );
            if master.key.len() != profile.key_len() || master.salt.len() != profile.salt_len() {
                return Err(SrtpError::KeyingMaterial {
                    profile,
                    got,
                    needed,
                });
            }
        }
        let srtp = provider.srtp_provider;
        Ok(Self {
            profile,
            hmac: provider.sha1_hmac_provider,
            rtp_in: Keys::derive(srtp, profile, incoming, false, false),
            rtcp_in: Keys::derive(srtp, profile, incoming, true, false),
            rtp_out: Keys::derive(srtp, profile, outgoing, false, true),
            rtcp_out: Keys::derive(srtp, profile, outgoing, true, true),
            streams: Vec::new(),
            srtcp_index: 0,
        })
    }

    /// Authenticates and decrypts one SRTP packet into `plain` (header and payload).
    pub fn unprotect_rtp(&mut self, packet: &[u8], plain: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.profile.tag_len();
        let header_len = header_len(packet)
            .filter(|h| h + tag_len <= packet.len())
            .ok_or(SrtpError::TooShort(packet.len()))?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let stream = self.stream(ssrc, seq)?;
        let roc = stream.guess_roc(seq);
        let header = &packet[..header_len];
        plain.clear();
        plain.extend_from_slice(header);
        match &mut self.rtp_in {
            Keys::Cm { cipher, auth, salt } => {
                let index = StreamIndex::index(roc, seq);
                let (signed, tag) = packet.split_at(packet.len() - CM_TAG_LEN);
                let hmac = |key: &[u8], parts: &[&[u8]]| self.hmac.sha1_hmac(key, parts);
                if !Aes128CmSha1_80::rtp_verify(hmac, auth, signed, index, tag) {
                    return Err(SrtpError::Authentication);
                }
                let iv = Aes128CmSha1_80::rtp_iv(*salt, ssrc, index);
                let body = &signed[header_len..];
                plain.resize(header_len + body.len(), 0);
                cipher
                    .decrypt(&iv, body, &mut plain[header_len..])
                    .map_err(|e| SrtpError::Cipher(e.to_string()))?;
            }
            Keys::Gcm { cipher, salt } => {
                // RFC 7714 gives both key lengths the same IV.
                let iv = AeadAes128Gcm::rtp_iv(*salt, ssrc, roc, seq);
                let body = &packet[header_len..];
                plain.resize(header_len + body.len(), 0);
                let n = cipher.decrypt(&iv, &[header], body, &mut plain[header_len..])?;
                plain.truncate(header_len + n);
            }
        }
        self.advance(ssrc, roc, seq);
        Ok(())
    }

    /// Encrypts and signs one RTP packet into `protected`; `roc` is how often the sender's
    /// sequence numbers have wrapped, which only the sender knows.
    pub fn protect_rtp(
        &mut self,
        packet: &[u8],
        roc: u32,
        protected: &mut Vec<u8>,
    ) -> Result<(), SrtpError> {
        let header_len = header_len(packet).ok_or(SrtpError::TooShort(packet.len()))?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let (header, body) = packet.split_at(header_len);
        protected.clear();
        protected.extend_from_slice(header);
        match &mut self.rtp_out {
            Keys::Cm { cipher, auth, salt } => {
                let index = StreamIndex::index(roc, seq);
                let iv = Aes128CmSha1_80::rtp_iv(*salt, ssrc, index);
                protected.resize(packet.len() + CM_TAG_LEN, 0);
                cipher
                    .encrypt(&iv, body, &mut protected[header_len..packet.len()])
                    .map_err(|e| SrtpError::Cipher(e.to_string()))?;
                let hmac = |key: &[u8], parts: &[&[u8]]| self.hmac.sha1_hmac(key, parts);
                Aes128CmSha1_80::rtp_hmac(hmac, auth, protected, index, packet.len());
            }
            Keys::Gcm { cipher, salt } => {
                let iv = AeadAes128Gcm::rtp_iv(*salt, ssrc, roc, seq);
                protected.resize(packet.len() + GCM_TAG_LEN, 0);
                cipher.encrypt(&iv, header, body, &mut protected[header_len..])?;
            }
        }
        Ok(())
    }

    /// Encrypts and signs one compound RTCP packet into `protected`, with the next SRTCP index.
    pub fn protect_rtcp(&mut self, rtcp: &[u8], protected: &mut Vec<u8>) -> Result<(), SrtpError> {
        if rtcp.len() < RTCP_HEADER_LEN {
            return Err(SrtpError::TooShort(rtcp.len()));
        }
        self.srtcp_index = (self.srtcp_index + 1) & !ENCRYPTED_FLAG;
        let e_index = (ENCRYPTED_FLAG | self.srtcp_index).to_be_bytes();
        let ssrc = u32::from_be_bytes([rtcp[4], rtcp[5], rtcp[6], rtcp[7]]);
        let (header, body) = rtcp.split_at(RTCP_HEADER_LEN);
        protected.clear();
        protected.extend_from_slice(header);
        match &mut self.rtcp_out {
            Keys::Cm { cipher, auth, salt } => {
                let iv = Aes128CmSha1_80::rtp_iv(*salt, ssrc, u64::from(self.srtcp_index));
                protected.resize(RTCP_HEADER_LEN + body.len(), 0);
                cipher
                    .encrypt(&iv, body, &mut protected[RTCP_HEADER_LEN..])
                    .map_err(|e| SrtpError::Cipher(e.to_string()))?;
                protected.extend_from_slice(&e_index);
                let signed = protected.len();
                protected.resize(signed + CM_TAG_LEN, 0);
                let hmac = |key: &[u8], parts: &[&[u8]]| self.hmac.sha1_hmac(key, parts);
                Aes128CmSha1_80::rtcp_hmac(hmac, auth, protected, signed);
            }
            Keys::Gcm { cipher, salt } => {
                let iv = AeadAes128Gcm::rtcp_iv(*salt, ssrc, self.srtcp_index);
                let aad = rtcp_aad(header, e_index);
                protected.resize(RTCP_HEADER_LEN + body.len() + GCM_TAG_LEN, 0);
                cipher.encrypt(&iv, &aad, body, &mut protected[RTCP_HEADER_LEN..])?;
                protected.extend_from_slice(&e_index);
            }
        }
        Ok(())
    }

    /// Authenticates and decrypts one SRTCP packet into `plain`.
    pub fn unprotect_rtcp(&mut self, packet: &[u8], plain: &mut Vec<u8>) -> Result<(), SrtpError> {
        let trailer = SRTCP_INDEX_LEN + self.profile.tag_len();
        if packet.len() < RTCP_HEADER_LEN + trailer {
            return Err(SrtpError::TooShort(packet.len()));
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let header = &packet[..RTCP_HEADER_LEN];
        plain.clear();
        plain.extend_from_slice(header);
        match &mut self.rtcp_in {
            Keys::Cm { cipher, auth, salt } => {
                let (signed, tag) = packet.split_at(packet.len() - CM_TAG_LEN);
                let hmac = |key: &[u8], parts: &[&[u8]]| self.hmac.sha1_hmac(key, parts);
                if !Aes128CmSha1_80::rtcp_verify(hmac, auth, signed, tag) {
                    return Err(SrtpError::Authentication);
                }
                let (body, e_index) = signed[RTCP_HEADER_LEN..].split_at(signed.len() - 12);
                let e_index = u32::from_be_bytes([e_index[0], e_index[1], e_index[2], e_index[3]]);
                plain.resize(RTCP_HEADER_LEN + body.len(), 0);
                if e_index & ENCRYPTED_FLAG == 0 {
                    plain[RTCP_HEADER_LEN..].copy_from_slice(body);
                    return Ok(());
                }
                let index = u64::from(e_index & !ENCRYPTED_FLAG);
                let iv = Aes128CmSha1_80::rtp_iv(*salt, ssrc, index);
                cipher
                    .decrypt(&iv, body, &mut plain[RTCP_HEADER_LEN..])
                    .map_err(|e| SrtpError::Cipher(e.to_string()))?;
            }
            Keys::Gcm { cipher, salt } => {
                let (body, e_index) = split_srtcp_index(&packet[RTCP_HEADER_LEN..]);
                let index = u32::from_be_bytes(e_index) & !ENCRYPTED_FLAG;
                let iv = AeadAes128Gcm::rtcp_iv(*salt, ssrc, index);
                plain.resize(RTCP_HEADER_LEN + body.len(), 0);
                let n = cipher.decrypt(
                    &iv,
                    &[header, &e_index],
                    body,
                    &mut plain[RTCP_HEADER_LEN..],
                )?;
                plain.truncate(RTCP_HEADER_LEN + n);
            }
        }
        Ok(())
    }

    /// The stream `ssrc` belongs to; a new one starts at `seq` with a rollover counter of 0.
    fn stream(&mut self, ssrc: u32, seq: u16) -> Result<StreamIndex, SrtpError> {
        if let Some(stream) = self.streams.iter().find(|s| s.ssrc == ssrc) {
            return Ok(*stream);
        }
        if self.streams.len() >= MAX_STREAMS {
            return Err(SrtpError::TooManyStreams);
        }
        let stream = StreamIndex {
            ssrc,
            roc: 0,
            highest_seq: seq,
        };
        Ok(stream)
    }

    /// Records an authenticated packet; a new stream is kept only once one of its packets
    /// authenticated, so forged packets cannot fill the table.
    fn advance(&mut self, ssrc: u32, roc: u32, seq: u16) {
        match self.streams.iter_mut().find(|s| s.ssrc == ssrc) {
            Some(stream) => stream.advance(roc, seq),
            None => self.streams.push(StreamIndex {
                ssrc,
                roc,
                highest_seq: seq,
            }),
        }
    }
}

impl Keys {
    fn derive(
        srtp: &'static dyn SrtpProvider,
        profile: Profile,
        master: MasterKey<'_>,
        rtcp: bool,
        encrypt: bool,
    ) -> Self {
        let (cipher_label, auth_label, salt_label) = match rtcp {
            false => (Label::RtpCipher, Label::RtpAuth, Label::RtpSalt),
            true => (Label::RtcpCipher, Label::RtcpAuth, Label::RtcpSalt),
        };
        let mut key = [0u8; 32];
        let key = &mut key[..profile.key_len()];
        kdf(srtp, master, cipher_label, key);
        match profile {
            Profile::AesCm128HmacSha1_80 => {
                let (mut auth, mut salt) = ([0u8; 20], [0u8; 14]);
                kdf(srtp, master, auth_label, &mut auth);
                kdf(srtp, master, salt_label, &mut salt);
                let key: [u8; 16] = key.try_into().unwrap_or_default();
                let cipher = srtp.aes_128_cm_sha1_80().create_cipher(key, encrypt);
                Keys::Cm { cipher, auth, salt }
            }
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => {
                let mut salt = [0u8; 12];
                kdf(srtp, master, salt_label, &mut salt);
                let cipher = match <[u8; 16]>::try_from(&*key) {
                    Ok(key) => {
                        GcmCipher::Aes128(srtp.aead_aes_128_gcm().create_cipher(key, encrypt))
                    }
                    Err(_) => {
                        let key: [u8; 32] = key.try_into().unwrap_or_default();
                        GcmCipher::Aes256(srtp.aead_aes_256_gcm().create_cipher(key, encrypt))
                    }
                };
                Keys::Gcm { cipher, salt }
            }
        }
    }
}

/// The SRTP key derivation function with a key derivation rate of 0 (RFC 3711 section 4.3.1):
/// AES in counter mode under the master key, from the master salt with the label in its eighth
/// byte. RFC 7714's 96-bit salts are padded with zeros to the 112 bits the function takes.
fn kdf(srtp: &'static dyn SrtpProvider, master: MasterKey<'_>, label: Label, out: &mut [u8]) {
    let mut counter = [0u8; 16];
    counter[..master.salt.len()].copy_from_slice(master.salt);
    counter[7] ^= label as u8;
    for (block, chunk) in out.chunks_mut(16).enumerate() {
        counter[14..].copy_from_slice(&(block as u16).to_be_bytes());
        let mut keystream = [0u8; 16];
        match master.key.len() {
            32 => srtp.srtp_aes_256_ecb_round(master.key, &counter, &mut keystream),
            _ => srtp.srtp_aes_128_ecb_round(master.key, &counter, &mut keystream),
        }
        chunk.copy_from_slice(&keystream[..chunk.len()]);
    }
}

/// RFC 7714 section 9.1's additional data: the first 8 bytes of the RTCP packet, then the
/// E flag and SRTCP index.
fn rtcp_aad(header: &[u8], e_index: [u8; 4]) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(header);
    aad[8..].copy_from_slice(&e_index);
    aad
}

fn split_srtcp_index(rest: &[u8]) -> (&[u8], [u8; 4]) {
    let (body, index) = rest.split_at(rest.len() - SRTCP_INDEX_LEN);
    (body, [index[0], index[1], index[2], index[3]])
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
