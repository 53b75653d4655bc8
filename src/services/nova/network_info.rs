//! Migration 066: the `network_info` JSON Essex caches per instance, built from the instance's
//! virtual interfaces, their networks, fixed ips and floating ips (deleted rows included, as
//! upstream does). One deliberate difference: upstream writes a floating address under the key
//! `"a"` (a bug); osmigrate writes `"address"`, which is what Essex reads.

use std::net::Ipv6Addr;

use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct Network {
    pub uuid: Option<String>,
    pub label: Option<String>,
    pub bridge: Option<String>,
    pub cidr: Option<String>,
    pub cidr_v6: Option<String>,
    pub gateway: Option<String>,
    pub gateway_v6: Option<String>,
    pub dns1: Option<String>,
    pub dns2: Option<String>,
    pub project_id: Option<String>,
    /// `meta` entries, only when truthy, in this order.
    pub injected: bool,
    pub multi_host: bool,
    pub vlan: Option<i64>,
    pub bridge_interface: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FixedIp {
    pub address: String,
    pub floating: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Vif {
    pub uuid: Option<String>,
    pub address: Option<String>,
    pub network: Option<Network>,
    pub fixed_ips: Vec<FixedIp>,
}

/// How Nova derives an instance's IPv6 address (`ipv6_backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Backend {
    Rfc2462,
    AccountIdentifier,
}

impl Ipv6Backend {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "rfc2462" => Some(Ipv6Backend::Rfc2462),
            "account_identifier" => Some(Ipv6Backend::AccountIdentifier),
            _ => None,
        }
    }
}

fn ip_version(address: &str) -> u8 {
    if address.contains(':') { 6 } else { 4 }
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.trim().is_empty())
}

// The JSON, field for field in the order Essex writes it, serialized straight from these borrowed
// views (no intermediate tree): this runs for every instance.

#[derive(Serialize)]
struct VifJson<'a> {
    id: Option<&'a str>,
    address: Option<&'a str>,
    network: Option<NetworkJson<'a>>,
}

#[derive(Serialize)]
struct NetworkJson<'a> {
    id: Option<&'a str>,
    label: Option<&'a str>,
    bridge: Option<&'a str>,
    subnets: Vec<SubnetJson<'a>>,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    meta: Meta<'a>,
}

/// Only the truthy entries, in this order.
#[derive(Serialize)]
struct Meta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    injected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_host: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bridge_interface: Option<&'a str>,
}

impl Meta<'_> {
    fn is_empty(&self) -> bool {
        self.injected.is_none()
            && self.multi_host.is_none()
            && self.project_id.is_none()
            && self.vlan.is_none()
            && self.bridge_interface.is_none()
    }
}

#[derive(Serialize)]
struct SubnetJson<'a> {
    version: u8,
    cidr: &'a str,
    gateway: Option<AddressJson<'a>>,
    dns: Vec<AddressJson<'a>>,
    routes: [(); 0],
    ips: Vec<IpJson<'a>>,
}

/// A gateway, DNS server or floating address.
#[derive(Serialize)]
struct AddressJson<'a> {
    address: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: u8,
}

impl<'a> AddressJson<'a> {
    fn new(address: &'a str, kind: &'static str) -> Self {
        AddressJson { address, kind, version: ip_version(address) }
    }
}

/// An instance's own address: fixed (IPv4, typed) or computed (IPv6, untyped).
#[derive(Serialize)]
struct IpJson<'a> {
    address: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    version: u8,
    floating_ips: Vec<AddressJson<'a>>,
}

/// The whole list for one instance (`[]` without vifs), as JSON text. An IPv6 address that cannot
/// be computed (bad MAC or prefix) is an error for the caller to report.
pub fn network_info(vifs: &[Vif], ipv6: Ipv6Backend) -> Result<String, String> {
    let mut out = Vec::with_capacity(vifs.len());
    for vif in vifs {
        let network = vif.network.as_ref().map(|n| network_json(n, vif, ipv6)).transpose()?;
        out.push(VifJson { id: vif.uuid.as_deref(), address: vif.address.as_deref(), network });
    }
    Ok(serde_json::to_string(&out).expect("network_info serializes"))
}

fn network_json<'a>(n: &'a Network, vif: &'a Vif, ipv6: Ipv6Backend) -> Result<NetworkJson<'a>, String> {
    let dns: Vec<&str> = [n.dns1.as_deref(), n.dns2.as_deref()].into_iter().filter_map(non_empty).collect();
    let mut subnets = Vec::new();
    if let Some(cidr) = non_empty(n.cidr.as_deref()) {
        let ips = vif
            .fixed_ips
            .iter()
            .map(|ip| IpJson {
                address: ip.address.as_str().into(),
                kind: Some("fixed"),
                version: 4,
                floating_ips: ip.floating.iter().map(|f| AddressJson { address: f, kind: "floating", version: 4 }).collect(),
            })
            .collect();
        subnets.push(subnet(4, cidr, n.gateway.as_deref(), &dns, ips));
    }
    if let Some(cidr_v6) = non_empty(n.cidr_v6.as_deref()) {
        let mac = vif.address.as_deref().unwrap_or("");
        let address = ipv6_address(cidr_v6, mac, ipv6, n.project_id.as_deref())?;
        let ips = vec![IpJson { address: address.into(), kind: None, version: 6, floating_ips: Vec::new() }];
        subnets.push(subnet(6, cidr_v6, n.gateway_v6.as_deref(), &dns, ips));
    }
    let meta = Meta {
        injected: n.injected.then_some(true),
        multi_host: n.multi_host.then_some(true),
        project_id: non_empty(n.project_id.as_deref()),
        vlan: n.vlan.filter(|v| *v != 0),
        bridge_interface: non_empty(n.bridge_interface.as_deref()),
    };
    Ok(NetworkJson { id: n.uuid.as_deref(), label: n.label.as_deref(), bridge: n.bridge.as_deref(), subnets, meta })
}

fn subnet<'a>(version: u8, cidr: &'a str, gateway: Option<&'a str>, dns: &[&'a str], ips: Vec<IpJson<'a>>) -> SubnetJson<'a> {
    SubnetJson {
        version,
        cidr,
        gateway: non_empty(gateway).map(|g| AddressJson::new(g, "gateway")),
        dns: dns.iter().filter(|d| ip_version(d) == version).map(|d| AddressJson::new(d, "dns")).collect(),
        routes: [],
        ips,
    }
}

fn parse_mac(mac: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = mac.trim().split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!("MAC address `{mac}` is not six octets"));
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = u8::from_str_radix(p, 16).map_err(|_| format!("MAC address `{mac}` is not hexadecimal"))?;
    }
    Ok(out)
}

/// The instance's IPv6 address: the interface identifier OR-ed into the prefix as written (host
/// bits in the text are kept, as netaddr does upstream).
pub fn ipv6_address(cidr_v6: &str, mac: &str, backend: Ipv6Backend, project_id: Option<&str>) -> Result<String, String> {
    let prefix_text = cidr_v6.split('/').next().unwrap_or("").trim();
    let prefix: Ipv6Addr = prefix_text.parse().map_err(|_| format!("`{cidr_v6}` is not an IPv6 prefix"))?;
    let m = parse_mac(mac)?;
    let interface: u64 = match backend {
        Ipv6Backend::Rfc2462 => u64::from_be_bytes([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]),
        Ipv6Backend::AccountIdentifier => {
            use sha1::{Digest, Sha1};
            let project = project_id.ok_or("account_identifier needs the network's project_id, which is NULL")?;
            let digest = Sha1::digest(project.as_bytes());
            let high = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
            (u64::from(high) << 32) | (0xff << 24) | (u64::from(m[3]) << 16) | (u64::from(m[4]) << 8) | u64::from(m[5])
        }
    };
    Ok(Ipv6Addr::from(u128::from(prefix) | u128::from(interface)).to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;

    #[test]
    fn rfc2462_addresses_match_netaddr() {
        let r = |c: &str, m: &str| ipv6_address(c, m, Ipv6Backend::Rfc2462, None).unwrap();
        assert_eq!(r("fd00::/64", "02:16:3e:33:44:55"), "fd00::16:3eff:fe33:4455");
        assert_eq!(r("2001:db8:0:1::/64", "fa:16:3e:00:00:01"), "2001:db8:0:1:f816:3eff:fe00:1");
        assert_eq!(r("2001:db8:1:0::/64", "FA:16:3E:AB:CD:EF"), "2001:db8:1:0:f816:3eff:feab:cdef");
        assert_eq!(r("2001:db8::5/64", "02:00:00:00:00:00"), "2001:db8::ff:fe00:5");
        assert!(ipv6_address("fd00::/64", "nonsense", Ipv6Backend::Rfc2462, None).is_err());
        assert!(ipv6_address("fd00::/64", "02:16:3e:33:44:55", Ipv6Backend::AccountIdentifier, None).is_err());
    }

    #[test]
    fn account_identifier_uses_the_project_hash() {
        // sha1("proj") starts with 0x63357964 (checked with Python's hashlib).
        let a = ipv6_address("fd00::/64", "02:16:3e:33:44:55", Ipv6Backend::AccountIdentifier, Some("proj")).unwrap();
        assert_eq!(a, "fd00::6335:7964:ff33:4455");
    }

    #[test]
    fn network_info_for_a_v4_and_v6_network() {
        let net = Network {
            uuid: Some("net-uuid".into()),
            label: Some("private".into()),
            bridge: Some("br100".into()),
            cidr: Some("10.0.0.0/24".into()),
            cidr_v6: Some("fd00::/64".into()),
            gateway: Some("10.0.0.1".into()),
            gateway_v6: Some("fd00::1".into()),
            dns1: Some("8.8.4.4".into()),
            dns2: None,
            project_id: Some("proj".into()),
            injected: true,
            multi_host: false,
            vlan: Some(100),
            bridge_interface: None,
        };
        let vif = Vif {
            uuid: Some("vif-uuid".into()),
            address: Some("02:16:3e:33:44:55".into()),
            network: Some(net),
            fixed_ips: vec![FixedIp { address: "10.0.0.3".into(), floating: vec!["1.2.3.4".into()] }],
        };
        let info = network_info(
            &[vif, Vif { uuid: Some("v2".into()), address: Some("02:00:00:00:00:01".into()), ..Default::default() }],
            Ipv6Backend::Rfc2462,
        )
        .unwrap();
        // Keys in Essex's order.
        assert!(
            info.starts_with(
                r#"[{"id":"vif-uuid","address":"02:16:3e:33:44:55","network":{"id":"net-uuid","label":"private","bridge":"br100","subnets":[{"version":4,"cidr":"10.0.0.0/24","gateway":{"address":"10.0.0.1","type":"gateway","version":4},"dns":"#
            ),
            "{info}"
        );
        assert!(info.ends_with(r#"{"id":"v2","address":"02:00:00:00:00:01","network":null}]"#), "{info}");
        let info: Json = serde_json::from_str(&info).unwrap();
        let n = &info[0]["network"];
        assert_eq!(n["meta"], json!({"injected": true, "project_id": "proj", "vlan": 100}));
        assert_eq!(n["subnets"][0]["ips"][0]["floating_ips"][0], json!({"address": "1.2.3.4", "type": "floating", "version": 4}));
        assert_eq!(n["subnets"][0]["dns"], json!([{"address": "8.8.4.4", "type": "dns", "version": 4}]));
        assert_eq!(n["subnets"][1]["dns"], json!([]));
        assert_eq!(n["subnets"][1]["gateway"], json!({"address": "fd00::1", "type": "gateway", "version": 6}));
        assert_eq!(n["subnets"][1]["ips"], json!([{"address": "fd00::16:3eff:fe33:4455", "version": 6, "floating_ips": []}]));
        assert_eq!(info[1]["network"], Json::Null);
        assert_eq!(network_info(&[], Ipv6Backend::Rfc2462).unwrap(), "[]");
    }
}
