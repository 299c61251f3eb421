//! URLs and host names to what is blocked: the registrable domain (Public Suffix List, private
//! section included) in ASCII, or the IP address.
//!
//! The URL is read by the WHATWG URL parser (the `url` crate), which lower-cases the host,
//! maps it through IDNA (UTS #46: full-width letters and `。` become ASCII and `.`, Unicode
//! labels become punycode) and reads the IPv4 forms browsers accept (`0x7f.1` is
//! `127.0.0.1`). Userinfo, port, path, query and fragment are dropped; a trailing dot is
//! dropped. Only `http`, `https` or no scheme are accepted.

use std::net::IpAddr;

use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
use url::{Host, Url};

use super::{IdentifierKind, Reason};
use crate::limits::{MAX_HOST_BYTES, MAX_LABEL_BYTES};

pub(super) const URL_EXPECTED: &str =
    "an http or https URL, or a host name with an optional path, e.g. https://www.example.com.cn/login";
pub(super) const HOST_EXPECTED: &str =
    "a host name under a public suffix (IDN accepted), or a public IPv4 or IPv6 address";

/// The schemes a victim's URL may carry; any other (`javascript:`, `data:`, `ftp:`) names no
/// site a carrier can block.
const SCHEMES: [&str; 2] = ["http", "https"];

/// The identifier of the site `text` (a URL, with or without a scheme) points to.
pub(super) fn url(text: &str) -> Result<(IdentifierKind, String), Reason> {
    let parsed = match Url::parse(text) {
        Ok(parsed) if SCHEMES.contains(&parsed.scheme()) => parsed,
        // `example.com:8080/x` reads as the scheme `example.com`: a "scheme" followed by a
        // port number is a host.
        Ok(_) if !after_colon_is_port(text) => return Err(Reason::UnsupportedScheme),
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
            let prefixed = if text.starts_with("//") { format!("http:{text}") } else { format!("http://{text}") };
            Url::parse(&prefixed).map_err(parse_reason)?
        }
        Err(error) => return Err(parse_reason(error)),
    };
    identify(parsed.host().ok_or(Reason::NoHost)?)
}

/// The identifier of a bare host name or IP address (brackets around IPv6 optional).
pub(super) fn host(text: &str) -> Result<(IdentifierKind, String), Reason> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return ip_identifier(ip);
    }
    if text.contains(['/', '?', '#', '@']) {
        return Err(Reason::BadLabel);
    }
    match Host::parse(text) {
        Ok(Host::Domain(name)) => identify(Host::Domain(name.as_str())),
        Ok(Host::Ipv4(ip)) => identify(Host::Ipv4(ip)),
        Ok(Host::Ipv6(ip)) => identify(Host::Ipv6(ip)),
        Err(error) => Err(parse_reason(error)),
    }
}

fn after_colon_is_port(text: &str) -> bool {
    text.split_once(':').is_some_and(|(_, rest)| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

fn parse_reason(error: url::ParseError) -> Reason {
    match error {
        url::ParseError::EmptyHost => Reason::NoHost,
        url::ParseError::IdnaError => Reason::InvalidIdn,
        url::ParseError::InvalidIpv4Address | url::ParseError::InvalidIpv6Address => Reason::NonPublicAddress,
        _ => Reason::BadLabel,
    }
}

fn identify(host: Host<&str>) -> Result<(IdentifierKind, String), Reason> {
    match host {
        Host::Ipv4(ip) => ip_identifier(IpAddr::V4(ip)),
        Host::Ipv6(ip) => ip_identifier(IpAddr::V6(ip)),
        Host::Domain(name) => registrable(name).map(|domain| (IdentifierKind::Domain, domain)),
    }
}

/// An IP address as blocked: an IPv4-mapped IPv6 address is its IPv4 address (one address,
/// one identifier); an address no public site can have is refused.
fn ip_identifier(ip: IpAddr) -> Result<(IdentifierKind, String), Reason> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let public = match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local())
        }
    };
    if public { Ok((IdentifierKind::Ip, ip.to_string())) } else { Err(Reason::NonPublicAddress) }
}

/// The registrable domain of an ASCII host name (the URL parser made it ASCII), checked
/// against DNS's bounds.
fn registrable(name: &str) -> Result<String, Reason> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(Reason::NoHost);
    }
    if name.len() > MAX_HOST_BYTES {
        return Err(Reason::HostTooLong);
    }
    for label in name.split('.') {
        if label.len() > MAX_LABEL_BYTES {
            return Err(Reason::HostTooLong);
        }
        let shaped = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !shaped {
            return Err(Reason::BadLabel);
        }
    }
    // The URL parser checked `xn--` labels decode; check it once more for names given bare.
    if idna::domain_to_unicode(name).1.is_err() {
        return Err(Reason::InvalidIdn);
    }
    psl::domain_str(name).map(str::to_owned).ok_or(Reason::PublicSuffix)
}

/// For a domain whose Unicode form could be mistaken for another name, that Unicode form, as the
/// victim saw it: `xn--pple-43d.com` (a Cyrillic `а`) is shown as `аpple.com`. A label
/// is suspicious when it is less than UTS #39's "highly restrictive" (Latin with Cyrillic or
/// Greek is; Latin with Han, kana, Hangul or Bopomofo, as in `淘宝taobao`, is not), or when it
/// is not ASCII but its skeleton is (a whole-script look-alike, `раураl` in Cyrillic). Such a domain
/// is still blocked, under its punycode form that harms no other site; the flag tells the
/// liaison what the victim saw.
pub fn looks_like(identifier: &super::Identifier) -> Option<String> {
    if identifier.kind() != IdentifierKind::Domain || !identifier.value().split('.').any(|l| l.starts_with("xn--")) {
        return None;
    }
    let (unicode, decoded) = idna::domain_to_unicode(identifier.value());
    decoded.ok()?;
    let suspicious = unicode.split('.').any(|label| {
        // Hyphens and underscores are not identifier characters for UTS #39; they change no
        // script.
        let letters: String = label.chars().filter(|c| !matches!(c, '-' | '_')).collect();
        letters.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive
            || !letters.is_ascii() && unicode_security::skeleton(&letters).all(|c| c.is_ascii())
    });
    suspicious.then_some(unicode)
}
