//! ICE servers a WHIP/WHEP server offers in `Link` headers (RFC 9725 section 4.6, RFC 8288
//! syntax): `<stun:stun.example.net>; rel="ice-server"`, and for TURN also `username`,
//! `credential` and `credential-type`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct IceServer {
    pub url: IceServerUrl,
    pub username: Option<String>,
    pub credential: Option<String>,
}

impl fmt::Debug for IceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential is a secret: it never reaches logs.
        f.debug_struct("IceServer")
            .field("url", &self.url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Stun,
    Stuns,
    Turn,
    Turns,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServerUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// `?transport=` of a TURN URL: "udp" or "tcp".
    pub transport: Option<String>,
}

impl fmt::Display for IceServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Stun => "stun",
            Scheme::Stuns => "stuns",
            Scheme::Turn => "turn",
            Scheme::Turns => "turns",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{scheme}:{host}:{}", self.port)?;
        if let Some(t) = &self.transport {
            write!(f, "?transport={t}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ICE server URL \"{url}\": {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: &'static str,
}

impl IceServerUrl {
    /// Parses RFC 7064/7065 URLs: `stun:host[:port]`, `turn:host[:port][?transport=udp]`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let bad = |reason| UrlError {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url.split_once(':').ok_or(bad("no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "stuns" => Scheme::Stuns,
            "turn" => Scheme::Turn,
            "turns" => Scheme::Turns,
            _ => return Err(bad("the scheme is not stun, stuns, turn or turns")),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let transport = match query {
            None => None,
            Some(q) => match q.strip_prefix("transport=") {
                Some(t) if matches!(scheme, Scheme::Turn | Scheme::Turns) => {
                    Some(t.to_ascii_lowercase())
                }
                _ => return Err(bad("only TURN URLs take a query, and only transport=")),
            },
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(bad("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let default_port = match scheme {
            Scheme::Stun | Scheme::Turn => 3478,
            Scheme::Stuns | Scheme::Turns => 5349,
        };
        let port = match port {
            None => default_port,
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
        };
        Ok(Self {
            scheme,
            host: host.to_string(),
            port,
            transport,
        })
    }
}

/// The `Link` relation of a WHEP session's layer-selection URL (draft-ietf-wish-whep).
pub const WHEP_LAYER_REL: &str = "urn:ietf:params:whep:ext:core:layer";

/// One link of a `Link` header: its target and its parameters (keys lower-cased, values
/// unquoted).
struct Link<'a> {
    target: &'a str,
    params: Vec<(String, String)>,
}

impl Link<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn has_rel(&self, rel: &str) -> bool {
        self.param("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(rel))
        })
    }
}

/// Every link in a response's `Link` header values (RFC 8288); values without a `<target>`
/// are skipped.
fn links<'a>(header_values: impl IntoIterator<Item = &'a str>) -> Vec<Link<'a>> {
    let mut out = Vec::new();
    for value in header_values {
        for link in split_outside_quotes(value, ',') {
            let mut parts = split_outside_quotes(link, ';').into_iter();
            let Some(target) = parts
                .next()
                .map(str::trim)
                .and_then(|t| t.strip_prefix('<'))
                .and_then(|t| t.strip_suffix('>'))
            else {
                continue;
            };
            let params = parts
                .filter_map(|param| param.split_once('='))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), unquote(v.trim())))
                .collect();
            out.push(Link { target, params });
        }
    }
    out
}

/// The target of the first link with relation `rel`, as written (it may be relative).
pub fn target_of<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
    rel: &str,
) -> Option<String> {
    links(header_values)
        .into_iter()
        .find(|l| l.has_rel(rel))
        .map(|l| l.target.to_string())
}

/// The ICE servers in a response's `Link` header values; other links are ignored, and so are
/// ice-server links whose URL does not parse (each comes back as an error to record).
pub fn ice_servers<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
) -> (Vec<IceServer>, Vec<UrlError>) {
    let mut servers = Vec::new();
    let mut errors = Vec::new();
    for link in links(header_values)
        .into_iter()
        .filter(|l| l.has_rel("ice-server"))
    {
        match IceServerUrl::parse(link.target) {
            Ok(url) => servers.push(IceServer {
                url,
                username: link.param("username").map(str::to_string),
                credential: link.param("credential").map(str::to_string),
            }),
            Err(e) => errors.push(e),
        }
    }
    (servers, errors)
}

fn split_outside_quotes(s: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut in_target, mut escaped) = (0, false, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !in_target => quoted = !quoted,
            '<' if !quoted => in_target = true,
            '>' if !quoted => in_target = false,
            c if c == separator && !quoted && !in_target => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9725_example_links() {
        let values = [
            "<stun:stun.example.net>; rel=\"ice-server\"",
            "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"user\"; \
             credential=\"myPassword\"; credential-type=\"password\"",
            "<turn:turn.example.net?transport=tcp>; rel=\"ice-server\"; username=\"user\"; \
             credential=\"myPassword\"; credential-type=\"password\", \
             <turns:turn.example.net:443?transport=tcp>; rel=\"ice-server\"; username=\"user\"; \
             credential=\"my;Pass,word\"; credential-type=\"password\"",
        ];
        let (servers, errors) = ice_servers(values);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(servers.len(), 4);
        assert_eq!(servers[0].url.to_string(), "stun:stun.example.net:3478");
        assert_eq!(servers[0].username, None);
        assert_eq!(
            servers[1].url.to_string(),
            "turn:turn.example.net:3478?transport=udp"
        );
        assert_eq!(servers[1].username.as_deref(), Some("user"));
        assert_eq!(servers[1].credential.as_deref(), Some("myPassword"));
        assert_eq!(servers[3].url.scheme, Scheme::Turns);
        assert_eq!(servers[3].url.port, 443);
        assert_eq!(servers[3].credential.as_deref(), Some("my;Pass,word"));
    }

    #[test]
    fn a_link_is_found_by_its_relation_among_others() {
        let values = [
            "<stun:stun.example.net>; rel=\"ice-server\", </whep/r/7/layer>; rel=\"urn:ietf:params:whep:ext:core:layer\"",
            "</whep/r/7/sse>; rel=\"urn:ietf:params:whep:ext:core:server-sent-events\"; events=\"layers\"",
        ];
        assert_eq!(
            target_of(values, "urn:ietf:params:whep:ext:core:layer").as_deref(),
            Some("/whep/r/7/layer")
        );
        assert_eq!(target_of(values, "next"), None);
    }

    #[test]
    fn other_links_are_ignored_and_bad_urls_reported() {
        let (servers, errors) = ice_servers([
            "<https://example.net/docs>; rel=\"help\"",
            "<stun:[2001:db8::1]:3479>; rel=\"ice-server\"",
            "<ftp:example.net>; rel=\"ice-server\"",
            "<stun:host:notaport>; rel=ice-server",
        ]);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].url.host, "2001:db8::1");
        assert_eq!(servers[0].url.port, 3479);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].to_string().contains("ftp:example.net"));
        assert!(errors[1].reason.contains("port"));
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let (servers, _) = ice_servers([
            "<turn:t.example>; rel=\"ice-server\"; username=\"u\"; credential=\"s3cret\"",
        ]);
        assert!(!format!("{servers:?}").contains("s3cret"));
    }
}
