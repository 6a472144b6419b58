//! Who a captured connect was talking to: the service name and the owner of the target, from a
//! TOML file of host patterns, CIDRs and ports, with loopback and local addresses always the
//! job's own.
//!
//! ```toml
//! [[service]]
//! name = "registry"
//! hosts = ["registry.example.com", "*.registry.example.com"]
//! cidrs = ["10.20.0.0/16"]
//! ports = [443]          # any port when absent
//! owner = "platform"     # or "third_party"; platform by default
//! ```
//!
//! The prober's file (`[[target]]` with `service`, `host`, `port`) is accepted too, so one file
//! can describe the platform's services for both: each target is a platform service at that
//! host (a name or an address) and port.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use failscope_schemas::TargetOwner;
use serde::Deserialize;

/// Why the service map cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceMapError {
    #[error("cannot read service map {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid service map {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid service map {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The service and owner a target was mapped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceMatch {
    pub(crate) service: String,
    pub(crate) owner: TargetOwner,
}

/// The rules, in file order; the first that matches wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceMap {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    hosts: Vec<String>,
    cidrs: Vec<(IpAddr, u8)>,
    ports: Vec<u16>,
    owner: TargetOwner,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceFile {
    #[serde(default)]
    service: Vec<ServiceEntry>,
    #[serde(default)]
    target: Vec<ProbeTargetEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    name: String,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    cidrs: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default = "platform")]
    owner: TargetOwner,
}

#[derive(Debug, Deserialize)]
struct ProbeTargetEntry {
    service: String,
    host: String,
    port: u16,
}

fn platform() -> TargetOwner {
    TargetOwner::Platform
}

impl ServiceMap {
    pub(crate) fn load(path: &Path) -> Result<ServiceMap, ServiceMapError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ServiceMapError::Read { path: path.to_path_buf(), source })?;
        let file: ServiceFile =
            toml::from_str(&text).map_err(|source| ServiceMapError::Parse { path: path.to_path_buf(), source })?;
        let invalid = |reason: String| ServiceMapError::Invalid { path: path.to_path_buf(), reason };
        let mut rules = Vec::new();
        for entry in file.service {
            if entry.name.is_empty() || (entry.hosts.is_empty() && entry.cidrs.is_empty() && entry.ports.is_empty()) {
                return Err(invalid(format!("service {:?} needs a name and hosts, cidrs or ports", entry.name)));
            }
            if entry.owner == TargetOwner::Job {
                return Err(invalid(format!("service {:?}: the job's own targets are found, not named", entry.name)));
            }
            let cidrs = entry.cidrs.iter().map(|c| parse_cidr(c).ok_or_else(|| invalid(format!("bad CIDR {c:?}"))));
            let cidrs = cidrs.collect::<Result<_, _>>()?;
            rules.push(Rule { name: entry.name, hosts: entry.hosts, cidrs, ports: entry.ports, owner: entry.owner });
        }
        for target in file.target {
            rules.push(Rule {
                name: target.service,
                hosts: vec![target.host],
                cidrs: Vec::new(),
                ports: vec![target.port],
                owner: TargetOwner::Platform,
            });
        }
        Ok(ServiceMap { rules })
    }

    /// The service and owner of a connect to `host` (the name, when known) at `addr`:`port`.
    /// Unmapped loopback and local addresses are the job's own (`local`); any other unmapped
    /// target is a third party named by its host.
    pub(crate) fn lookup(&self, host: Option<&str>, addr: Option<IpAddr>, port: u16) -> ServiceMatch {
        let matched = self.rules.iter().find(|rule| {
            let port_ok = rule.ports.is_empty() || rule.ports.contains(&port);
            let by_host = rule.hosts.iter().any(|pattern| {
                host.is_some_and(|h| host_matches(pattern, h))
                    || addr.is_some_and(|a| pattern.parse::<IpAddr>().is_ok_and(|p| p == a))
            });
            let by_cidr = addr.is_some_and(|a| rule.cidrs.iter().any(|&(net, bits)| in_cidr(a, net, bits)));
            let by_port_only = rule.hosts.is_empty() && rule.cidrs.is_empty();
            port_ok && (by_host || by_cidr || by_port_only)
        });
        if let Some(rule) = matched {
            return ServiceMatch { service: rule.name.clone(), owner: rule.owner };
        }
        let local_name = host.is_some_and(|h| h.eq_ignore_ascii_case("localhost") || h.ends_with(".localhost"));
        if local_name || addr.is_some_and(is_local) {
            return ServiceMatch { service: "local".into(), owner: TargetOwner::Job };
        }
        let name = host.map(str::to_string).or_else(|| addr.map(|a| a.to_string())).unwrap_or_else(|| "unknown".into());
        ServiceMatch { service: name, owner: TargetOwner::ThirdParty }
    }
}

/// Loopback, unspecified and link-local addresses never leave the machine (or its link).
fn is_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_loopback() || a.is_unspecified() || a.is_link_local(),
        IpAddr::V6(a) => {
            a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xffc0) == 0xfe80 || is_local_v4_mapped(a)
        }
    }
}

fn is_local_v4_mapped(a: std::net::Ipv6Addr) -> bool {
    a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_unspecified() || v4.is_link_local())
}

/// `*.example.com` matches any name below `example.com`; other patterns match exactly.
fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = text.split_once('/').unwrap_or((text, ""));
    let addr: IpAddr = addr.parse().ok()?;
    let max_bits = if addr.is_ipv4() { 32 } else { 128 };
    let bits = if bits.is_empty() { max_bits } else { bits.parse().ok()? };
    (bits <= max_bits).then_some((addr, bits))
}

fn in_cidr(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    let addr = match (addr, net) {
        (IpAddr::V6(a), IpAddr::V4(_)) => a.to_ipv4_mapped().map(IpAddr::V4),
        _ => Some(addr),
    };
    match (addr, net) {
        (Some(IpAddr::V4(a)), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (Some(IpAddr::V6(a)), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_targets_to_services_and_owners() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("services.toml");
        let text = r#"
interval = "30s"
[[service]]
name = "registry"
hosts = ["*.registry.example.com"]
cidrs = ["10.20.0.0/16"]
ports = [443]

[[service]]
name = "pypi"
hosts = ["pypi.org"]
owner = "third_party"

[[target]]
service = "db-fixture"
host = "127.0.0.1"
port = 5432
tls = false
"#;
        std::fs::write(&path, text).expect("write");
        let map = ServiceMap::load(&path).expect("valid map");
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        let platform = |s: &str| ServiceMatch { service: s.into(), owner: TargetOwner::Platform };
        let job = ServiceMatch { service: "local".into(), owner: TargetOwner::Job };
        let third = |s: &str| ServiceMatch { service: s.into(), owner: TargetOwner::ThirdParty };
        let cases = [
            (Some("eu.registry.example.com"), ip("192.0.2.1"), 443, platform("registry")),
            (Some("registry.example.com"), ip("192.0.2.1"), 443, third("registry.example.com")),
            (None, ip("10.20.3.4"), 443, platform("registry")),
            (None, ip("10.20.3.4"), 80, third("10.20.3.4")),
            (Some("PyPI.org"), ip("151.101.0.223"), 443, third("pypi")),
            (None, ip("127.0.0.1"), 5432, platform("db-fixture")),
            (None, ip("127.0.0.1"), 5433, job.clone()),
            (None, ip("::1"), 80, job.clone()),
            (Some("localhost"), None, 80, job.clone()),
            (None, ip("169.254.169.254"), 80, job),
            (Some("nothing.invalid"), None, 443, third("nothing.invalid")),
        ];
        for (host, addr, port, want) in cases {
            assert_eq!(map.lookup(host, addr, port), want, "{host:?} {addr:?} {port}");
        }
    }

    #[test]
    fn rejects_bad_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("services.toml");
        let cases = [
            ("[[service]]\nname = \"x\"\ncidrs = [\"10.0.0.0/33\"]\n", "bad CIDR"),
            ("[[service]]\nname = \"x\"\n", "needs a name"),
            ("[[service]]\nname = \"x\"\nports = [1]\nowner = \"job\"\n", "found, not named"),
            ("[[service]]\nname = \"x\"\nport = 1\n", "invalid service map"),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).expect("write");
            let error = ServiceMap::load(&path).expect_err(text);
            assert!(format!("{error:#}").contains(want), "{text}: {error:#}");
        }
    }
}
