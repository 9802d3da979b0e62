//! Who is on the other end: the peer address, or, when the peer is a trusted
//! reverse proxy (`server.trusted_proxies`), the address found by walking
//! `X-Forwarded-For` from the right over trusted hops. Backoff, the per-client
//! cap on sign-ins and the authorization API key on it, so a header written by
//! the client must never count.
//!
//! Rules: entries may be `ip`, `ip:port`, `[v6]` or `[v6]:port`; an entry that
//! does not parse stops the walk (what the last trusted hop saw is used, never
//! an entry further left, which the client may have written); IPv4-mapped IPv6
//! addresses are IPv4. Backoff keys an IPv6 client by its /64 ([`rate_key`]),
//! since one subscriber usually holds a whole /64.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut current = canonical(peer);
    if !is_trusted(&current) {
        return current;
    }
    let values: Vec<&str> = headers.get_all("x-forwarded-for").iter().map(|v| v.to_str().unwrap_or("")).collect();
    let entries: Vec<&str> = values.iter().flat_map(|v| v.split(',')).collect();
    for entry in entries.into_iter().rev() {
        match parse_entry(entry) {
            Some(ip) => current = canonical(ip),
            None => return current,
        }
        if !is_trusted(&current) {
            return current;
        }
    }
    current
}

/// One `X-Forwarded-For` entry, with or without a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).and_then(|e| e.parse().ok())
}

/// `::ffff:1.2.3.4` is the IPv4 client 1.2.3.4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The network a client's address belongs to, for the caps that one host with many addresses must not
/// escape: the IPv4 /24 or the IPv6 /48 (`203.0.113.0/24`, `2001:db8:1::/48`).
pub fn network_key(ip: IpAddr) -> String {
    let net = match canonical(ip) {
        IpAddr::V4(v4) => ipnet::Ipv4Net::new(v4, 24).map(|n| IpNet::V4(n.trunc())),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 48).map(|n| IpNet::V6(n.trunc())),
    };
    net.map_or_else(|_| ip.to_string(), |n| n.to_string())
}

/// The key backoff and the sign-in caps count by: the IPv4 address, or the IPv6 /64.
pub fn rate_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            network.map_or_else(|_| v6.to_string(), |n| n.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy = ip("10.0.0.5");
        let stranger = ip("203.0.113.7");
        assert_eq!(client_ip(stranger, &headers(&["1.2.3.4"]), &trusted), stranger, "untrusted peers cannot spoof");
        assert_eq!(client_ip(proxy, &headers(&["1.2.3.4, 198.51.100.9"]), &trusted), ip("198.51.100.9"));
        assert_eq!(client_ip(proxy, &headers(&["198.51.100.9, 10.0.0.7"]), &trusted), ip("198.51.100.9"));
        assert_eq!(client_ip(proxy, &headers(&["1.1.1.1", "198.51.100.9"]), &trusted), ip("198.51.100.9"));
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers(&["garbage"]), &trusted), proxy);
    }

    #[test]
    fn an_unparsable_entry_stops_the_walk() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote "1.2.3.4"; the trusted hop appended something unreadable.
        assert_eq!(client_ip(ip("10.0.0.5"), &headers(&["1.2.3.4, unknown"]), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(ip("10.0.0.5"), &headers(&["1.2.3.4, 10.0.0.9, _hidden"]), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(ip("10.0.0.5"), &headers(&["1.2.3.4, 10.0.0.9, , "]), &trusted), ip("10.0.0.5"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let proxy = ip("10.0.0.5");
        assert_eq!(client_ip(proxy, &headers(&["198.51.100.9:4711"]), &trusted), ip("198.51.100.9"));
        assert_eq!(client_ip(proxy, &headers(&["[2001:db8::7]:443"]), &trusted), ip("2001:db8::7"));
        assert_eq!(client_ip(proxy, &headers(&["[2001:db8::7]"]), &trusted), ip("2001:db8::7"));
        assert_eq!(client_ip(proxy, &headers(&["::ffff:198.51.100.9"]), &trusted), ip("198.51.100.9"));
        // A mapped trusted peer is the trusted IPv4 proxy.
        assert_eq!(client_ip(ip("::ffff:10.0.0.5"), &headers(&["198.51.100.9"]), &trusted), ip("198.51.100.9"));
    }

    #[test]
    fn networks_are_ipv4_24_and_ipv6_48() {
        let key = |s: &str| network_key(s.parse().unwrap());
        assert_eq!(key("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(key("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(key("2001:db8:1:2:3::4"), "2001:db8:1::/48");
        assert_eq!(key("2001:db8:1:ffff::1"), key("2001:db8:1::9"));
    }

    #[test]
    fn ipv6_clients_are_keyed_per_64() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(rate_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(rate_key(ip("198.51.100.9")), "198.51.100.9");
        assert_eq!(rate_key(ip("::ffff:198.51.100.9")), "198.51.100.9");
    }
}
