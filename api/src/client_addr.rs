//! Which address a request comes from, for per-address limits (login attempts, scans).

use std::net::IpAddr;

/// The client's address: the peer's, or behind a trusted proxy (`trust_forwarded_for`) the LAST
/// entry of X-Forwarded-For, the one that proxy appended for the peer it saw. Earlier entries are
/// whatever the client sent and are never trusted (taking the first would let anyone pick a fresh
/// address per request and escape every per-address limit). A missing or malformed header falls
/// back to the peer address.
pub fn client_ip(
    forwarded_for: Option<&str>,
    peer: Option<IpAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if !trust_forwarded_for {
        return peer;
    }
    forwarded_for
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .or(peer)
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use std::net::IpAddr;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap_or_else(|_| panic!("{s}")))
    }

    #[test]
    fn forwarded_for_only_when_trusted_and_only_its_last_entry() {
        let peer = ip("10.0.0.9");
        assert_eq!(client_ip(Some("203.0.113.7"), peer, false), peer);
        assert_eq!(
            client_ip(Some("203.0.113.7"), peer, true),
            ip("203.0.113.7")
        );
        // The client wrote the first entries; the proxy appended the last.
        assert_eq!(
            client_ip(Some("1.2.3.4, 198.51.100.2,203.0.113.7"), peer, true),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(Some(" 2001:db8::1 "), peer, true),
            ip("2001:db8::1")
        );
        for bad in ["", "nonsense", "1.2.3.4, ", "1.2.3.4:80"] {
            assert_eq!(client_ip(Some(bad), peer, true), peer, "{bad:?}");
        }
        assert_eq!(client_ip(None, peer, true), peer);
        assert_eq!(client_ip(None, None, true), None);
    }
}
