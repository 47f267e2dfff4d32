//! The public listener's defences, kept apart from the HTTP plumbing (the
//! accept loop in `http`, the layer above, uses them): its limits, connection caps, per-address rejection
//! budgets and the idle watchdog.

pub mod activity;
pub mod conns;
pub mod limits;
pub mod rejections;

use std::net::IpAddr;

pub use conns::ConnGuard;
pub use limits::EdgeLimits;
pub use rejections::Rejections;

/// The address a cap is counted under: the IPv4 address, or the /64 an
/// IPv6 client sits in (one host can use a whole /64 at will).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(u128);

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(u32::from(v4) as u128),
            IpAddr::V6(v6) => ClientKey((u128::from(v6) >> 64) << 64 | 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::of(v4), ClientKey::of(mapped));
    }
}
