//! Which IP addresses a webhook may reach (docs/contract.md#continuous-verification, "No server-side request forgery"): only
//! public ones. The ranges are the IANA special-purpose registries, written out explicitly
//! (`Ipv4Addr::is_global` is not stable), and addresses that embed an IPv4 address (mapped,
//! compatible, NAT64, 6to4) are judged by the address they embed. One home for the rule: the
//! webhook URL check at creation and the transport's check of resolved addresses both call it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{IpNet, Ipv6Net};

/// Non-public IPv4 ranges (IANA IPv4 Special-Purpose Address Registry, plus multicast and the
/// reserved class E space).
const V4_BLOCKED: &[&str] = &[
    "0.0.0.0/8",       // "this network", unspecified
    "10.0.0.0/8",      // private
    "100.64.0.0/10",   // shared address space (carrier-grade NAT)
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local (cloud metadata services live here)
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation (TEST-NET-1)
    "192.31.196.0/24", // AS112
    "192.52.193.0/24", // AMT
    "192.88.99.0/24",  // deprecated 6to4 relay anycast
    "192.168.0.0/16",  // private
    "192.175.48.0/24", // direct delegation AS112
    "198.18.0.0/15",   // benchmarking
    "198.51.100.0/24", // documentation (TEST-NET-2)
    "203.0.113.0/24",  // documentation (TEST-NET-3)
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, including broadcast
];

/// Non-public IPv6 ranges (IANA IPv6 Special-Purpose Address Registry, plus multicast). The
/// IPv4-embedding prefixes are handled before this list is consulted.
const V6_BLOCKED: &[&str] = &[
    "::/128",         // unspecified
    "::1/128",        // loopback
    "::/96",          // IPv4-compatible (deprecated)
    "64:ff9b:1::/48", // local-use NAT64
    "100::/64",       // discard-only
    "2001::/23",      // IETF protocol assignments (Teredo, ORCHID, benchmarking, …)
    "2001:db8::/32",  // documentation
    "3fff::/20",      // documentation
    "5f00::/16",      // segment routing SIDs
    "fc00::/7",       // unique local (fd00::/8 included)
    "fe80::/10",      // link-local
    "fec0::/10",      // site-local (deprecated)
    "ff00::/8",       // multicast
];

fn networks(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap_or_else(|e| panic!("address range {n}: {e}"))).collect()
}

static BLOCKED_V4: LazyLock<Vec<IpNet>> = LazyLock::new(|| networks(V4_BLOCKED));
static BLOCKED_V6: LazyLock<Vec<IpNet>> = LazyLock::new(|| networks(V6_BLOCKED));

/// Whether `address` is a public unicast address a webhook may be sent to. Everything else —
/// loopback, private, link-local, carrier-grade NAT, multicast, unspecified, documentation,
/// unique-local, and IPv6 forms of any of those — is refused.
#[must_use]
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => !BLOCKED_V6.iter().any(|net| net.contains(&IpAddr::V6(v6))),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    !BLOCKED_V4.iter().any(|net| net.contains(&IpAddr::V4(address)))
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that reach an IPv4
/// host: IPv4-mapped (`::ffff:a.b.c.d`), NAT64 well-known prefix (`64:ff9b::/96`) and 6to4
/// (`2002:AABB:CCDD::/48`).
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = address.to_ipv4_mapped() {
        return Some(v4);
    }
    let octets = address.octets();
    let nat64 = Ipv6Net::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96).ok()?;
    if nat64.contains(&address) {
        return Some(Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]));
    }
    let six_to_four = Ipv6Net::new(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16).ok()?;
    if six_to_four.contains(&address) {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for blocked in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.251",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::",
            "::1",
            "fd00::1",
            "fdff:ffff::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public_address(ip(blocked)), "{blocked} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public_address(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn the_range_lists_parse_into_their_families() {
        assert!(BLOCKED_V4.iter().all(|n| matches!(n, IpNet::V4(_))));
        assert!(BLOCKED_V6.iter().all(|n| matches!(n, IpNet::V6(_))));
    }
}
