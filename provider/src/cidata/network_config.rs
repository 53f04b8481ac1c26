//! IBM's rules for the `network-config` file of a CCRT / CCRV cloud-init disk (static
//! networking on premises), checked before the disk is built.
//!
//! The rules are those of IBM's contract library (`ibm-hyper-protect/contract-go`,
//! `network/network.go` → `common/general.VerifyNetworkSchema`, schema
//! `network_schema/hpse-network-config-schema.json`, samples `samples/network/*.yaml`):
//! - the text must be YAML, not JSON (`yamlParse` refuses text that is valid JSON), and a
//!   mapping with `network`;
//! - `network.version`, when given, is an integer; `network.ethernets` is required, with at
//!   least one interface, every one named `enc<N>` (IBM Z's virtio NICs) and nothing else;
//! - each interface requires `dhcp4` (a boolean); with `dhcp4: true` it may not have
//!   `addresses`, `gateway4`, `routes` or `nameservers`; with `dhcp4: false` it needs at
//!   least one address in `addresses`, each an IPv4 address with a prefix length;
//! - `mtu` is an integer, `routes` a list of mappings whose `to` and `via` are strings,
//!   `nameservers` a mapping with a list `addresses` (required) and a list `search`.
//!
//! Where IBM's rules accept something we accept it: other keys (`renderer`, `match`,
//! `set-name`, `dhcp6`, ...) pass, as the schema does not close those objects. The schema's
//! `format: ipv4` on `gateway4`, route `via` and nameserver addresses is not asserted by the
//! validator IBM uses (santhosh-tekuri/jsonschema v5 treats `format` as an annotation for
//! schemas without `$schema`, i.e. draft 2020-12), so a value there that is not an IPv4
//! address is a warning, not an error: cloud-init would not apply it.

use std::net::Ipv4Addr;

use serde_yaml_ng::{Mapping, Value};

/// One finding, at a YAML path such as `network.ethernets.enc1.addresses[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

/// What the check found: errors refuse the configuration, warnings only inform.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Report {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Finding {
            path: path.to_string(),
            message: message.into(),
        });
    }
    fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Finding {
            path: path.to_string(),
            message: message.into(),
        });
    }
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks a `network-config` text against IBM's rules.
pub fn check(text: &str) -> Report {
    let mut report = Report::default();
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        report.error(
            "",
            "network_config must be YAML, not JSON (IBM's contract library refuses JSON): \
             write it as YAML, e.g. with yamlencode(...)",
        );
        return report;
    }
    let doc: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            report.error("", format!("not valid YAML: {}", yaml_error_location(&e)));
            return report;
        }
    };
    let root = match &doc {
        Value::Mapping(m) => m.clone(),
        Value::Null => Mapping::new(),
        other => {
            report.error(
                "",
                format!("must be a mapping with `network`, found {}", kind(other)),
            );
            return report;
        }
    };
    let Some(network) = root.get("network") else {
        report.error(
            "",
            "`network` is required (network: {version: 2, ethernets: {enc1: ...}})",
        );
        return report;
    };
    let Value::Mapping(network) = network else {
        report.error(
            "network",
            format!("must be a mapping, found {}", kind(network)),
        );
        return report;
    };
    if let Some(v) = network.get("version") {
        if !is_integer(v) {
            report.error(
                "network.version",
                format!("must be an integer, found {}", kind(v)),
            );
        }
    }
    let Some(ethernets) = network.get("ethernets") else {
        report.error(
            "network",
            "`ethernets` is required: at least one interface enc<N>",
        );
        return report;
    };
    let Value::Mapping(ethernets) = ethernets else {
        report.error(
            "network.ethernets",
            format!("must be a mapping of interfaces, found {}", kind(ethernets)),
        );
        return report;
    };
    if ethernets.is_empty() {
        report.error(
            "network.ethernets",
            "needs at least one interface (enc<N>, e.g. enc1)",
        );
    }
    for (name, iface) in ethernets {
        let Some(name) = name.as_str().filter(|n| is_enc_name(n)) else {
            report.error(
                &format!("network.ethernets.{}", key_text(name)),
                "interfaces must be named enc<N> (e.g. enc1, enc2: the virtio network \
                 devices of an IBM Z guest); no other key is allowed under ethernets",
            );
            continue;
        };
        check_interface(&format!("network.ethernets.{name}"), iface, &mut report);
    }
    report
}

fn check_interface(at: &str, iface: &Value, report: &mut Report) {
    let Value::Mapping(iface) = iface else {
        report.error(at, format!("must be a mapping, found {}", kind(iface)));
        return;
    };
    let path = |key: &str| format!("{at}.{key}");
    let dhcp4 = match iface.get("dhcp4") {
        None => {
            report.error(at, "`dhcp4` is required (true, or false with `addresses`)");
            None
        }
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            report.error(
                &path("dhcp4"),
                format!("must be true or false, found {}", kind(other)),
            );
            None
        }
    };
    if let Some(v) = iface.get("mtu") {
        if !is_integer(v) {
            report.error(
                &path("mtu"),
                format!("must be an integer, found {}", kind(v)),
            );
        }
    }
    let static_keys = ["addresses", "gateway4", "routes", "nameservers"];
    if dhcp4 == Some(true) {
        for key in static_keys {
            if iface.contains_key(key) {
                report.error(
                    &path(key),
                    format!("not allowed with dhcp4: true; set dhcp4: false to give {key}"),
                );
            }
        }
    }
    if dhcp4 == Some(false) {
        match iface.get("addresses") {
            None => report.error(
                at,
                "`addresses` is required with dhcp4: false (e.g. [192.168.122.110/24])",
            ),
            Some(Value::Sequence(s)) if s.is_empty() => report.error(
                &path("addresses"),
                "needs at least one address with dhcp4: false",
            ),
            _ => {}
        }
    }
    if let Some(v) = iface.get("addresses") {
        match v {
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{at}.addresses[{i}]");
                    match item.as_str() {
                        Some(s) if is_ipv4_cidr(s) => {}
                        Some(_) => report.error(
                            &at,
                            "must be an IPv4 address with a prefix length, e.g. \
                             192.168.122.110/24",
                        ),
                        None => {
                            report.error(&at, format!("must be a string, found {}", kind(item)))
                        }
                    }
                }
            }
            other => report.error(
                &path("addresses"),
                format!("must be a list, found {}", kind(other)),
            ),
        }
    }
    if let Some(v) = iface.get("gateway4") {
        ipv4_string(&path("gateway4"), v, report);
    }
    if let Some(v) = iface.get("routes") {
        match v {
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{at}.routes[{i}]");
                    let Value::Mapping(route) = item else {
                        report.error(&at, format!("must be a mapping, found {}", kind(item)));
                        continue;
                    };
                    if let Some(to) = route.get("to") {
                        if !to.is_string() {
                            report.error(
                                &format!("{at}.to"),
                                format!("must be a string, found {}", kind(to)),
                            );
                        }
                    }
                    if let Some(via) = route.get("via") {
                        ipv4_string(&format!("{at}.via"), via, report);
                    }
                }
            }
            other => report.error(
                &path("routes"),
                format!("must be a list, found {}", kind(other)),
            ),
        }
    }
    if let Some(v) = iface.get("nameservers") {
        check_nameservers(&path("nameservers"), v, report);
    }
}

fn check_nameservers(at: &str, v: &Value, report: &mut Report) {
    let Value::Mapping(ns) = v else {
        report.error(at, format!("must be a mapping, found {}", kind(v)));
        return;
    };
    match ns.get("addresses") {
        None => report.error(at, "`addresses` is required in nameservers"),
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                ipv4_string(&format!("{at}.addresses[{i}]"), item, report);
            }
        }
        Some(other) => report.error(
            &format!("{at}.addresses"),
            format!("must be a list, found {}", kind(other)),
        ),
    }
    match ns.get("search") {
        None => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    report.error(
                        &format!("{at}.search[{i}]"),
                        format!("must be a string, found {}", kind(item)),
                    );
                }
            }
        }
        Some(other) => report.error(
            &format!("{at}.search"),
            format!("must be a list, found {}", kind(other)),
        ),
    }
}

/// A string (an error otherwise) that should be an IPv4 address (a warning otherwise: IBM's
/// validator does not assert the schema's `format: ipv4`).
fn ipv4_string(at: &str, v: &Value, report: &mut Report) {
    match v.as_str() {
        Some(s) if s.parse::<Ipv4Addr>().is_ok() => {}
        Some(_) => report.warning(
            at,
            "is not an IPv4 address; IBM's validator lets it pass, but the guest's \
             cloud-init will not apply it",
        ),
        None => report.error(at, format!("must be a string, found {}", kind(v))),
    }
}

fn is_enc_name(name: &str) -> bool {
    name.strip_prefix("enc")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// IBM's address pattern: four octets of one to three digits up to 255 (leading zeros
/// allowed, as the pattern `[01]?[0-9][0-9]?` allows them), `/`, a prefix length 0-32
/// without leading zeros.
fn is_ipv4_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let prefix_ok = match prefix.len() {
        1 => prefix.as_bytes()[0].is_ascii_digit(),
        2 => {
            prefix.as_bytes()[0] != b'0'
                && prefix.bytes().all(|c| c.is_ascii_digit())
                && prefix.parse::<u8>().is_ok_and(|p| p <= 32)
        }
        _ => false,
    };
    let octets: Vec<&str> = address.split('.').collect();
    prefix_ok
        && octets.len() == 4
        && octets.iter().all(|o| {
            (1..=3).contains(&o.len())
                && o.bytes().all(|c| c.is_ascii_digit())
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping key for a YAML path (never a value: keys are names, not secrets).
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("<{}>", kind(other)),
    }
}

/// Where a YAML error is, without quoting the text.
fn yaml_error_location(e: &serde_yaml_ng::Error) -> String {
    match e.location() {
        Some(l) => format!("line {}, column {}", l.line(), l.column()),
        None => "unreadable".to_string(),
    }
}

#[cfg(test)]
#[path = "network_config_tests.rs"]
mod tests;
