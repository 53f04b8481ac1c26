//! The accepted / refused table of IBM's network-config rules (see the module comment for
//! where each rule comes from).

use super::*;

/// IBM's own sample (`contract-go` `samples/network/network_config.yaml`), verbatim in
/// substance: static address, gateway, name server.
const IBM_SAMPLE: &str = "network:
  version: 2
  ethernets:
    enc1:
      dhcp4: false
      addresses:
        - 192.168.122.110/24
      gateway4: 192.168.122.1
      nameservers:
        addresses:
          - 8.8.8.8
";

fn accepted(text: &str) -> bool {
    check(text).is_ok()
}

/// The first error's path and whether its message contains `needle`.
fn refused_at(text: &str, path: &str, needle: &str) {
    let report = check(text);
    let hit = report
        .errors
        .iter()
        .any(|f| f.path == path && f.message.contains(needle));
    assert!(
        hit,
        "want error at {path:?} with {needle:?}; got {report:?}\n{text}"
    );
}

#[test]
fn accepted_configurations() {
    let cases = [
        IBM_SAMPLE,
        "network:\n  ethernets:\n    enc1:\n      dhcp4: true\n",
        "network:\n  version: 2\n  ethernets:\n    enc1:\n      dhcp4: true\n      mtu: 9000\n",
        // Several interfaces, one static with routes and search domains.
        "network:
  version: 2
  renderer: networkd
  ethernets:
    enc1:
      dhcp4: true
    enc2:
      dhcp4: false
      addresses: [10.0.0.5/8, 172.16.0.9/12]
      routes:
        - to: 0.0.0.0/0
          via: 10.0.0.1
      nameservers:
        search: [example.com]
        addresses: [10.0.0.2, 10.0.0.3]
",
        // Keys IBM's schema leaves open (match, set-name, dhcp6) pass.
        "network:\n  ethernets:\n    enc9:\n      dhcp4: true\n      dhcp6: false\n      match:\n        macaddress: 52:54:00:12:34:56\n      set-name: enc9\n",
        // dhcp4: false with addresses only (no gateway, no DNS) is enough for IBM.
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [192.168.1.2/32]\n",
        // IBM's address pattern allows leading zeros and prefix 0.
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [010.001.000.099/0]\n",
        // Extra top-level keys are not closed by the schema.
        "network:\n  ethernets:\n    enc1:\n      dhcp4: true\nother: 1\n",
        // A whole-number float where an integer is asked is an integer to IBM's validator.
        "network:\n  version: 2.0\n  ethernets:\n    enc1:\n      dhcp4: true\n",
    ];
    for text in cases {
        let report = check(text);
        assert!(report.is_ok(), "{text}\n{report:?}");
    }
}

#[test]
fn refused_configurations_name_the_yaml_path() {
    // IBM's invalid sample: an interface called `enc` (no number).
    refused_at(
        &IBM_SAMPLE.replace("enc1", "enc"),
        "network.ethernets.enc",
        "enc<N>",
    );
    refused_at(
        "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n",
        "network.ethernets.eth0",
        "enc<N>",
    );
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      addresses: [1.2.3.4/24]\n",
        "network.ethernets.enc1",
        "dhcp4",
    );
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: yes\n",
        "network.ethernets.enc1.dhcp4",
        "true or false",
    );
    for key in [
        "addresses: [1.2.3.4/24]",
        "gateway4: 1.2.3.1",
        "routes: []",
        "nameservers: {addresses: [8.8.8.8]}",
    ] {
        let name = key.split(':').next().unwrap();
        refused_at(
            &format!("network:\n  ethernets:\n    enc1:\n      dhcp4: true\n      {key}\n"),
            &format!("network.ethernets.enc1.{name}"),
            "dhcp4: false",
        );
    }
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      gateway4: 1.2.3.1\n",
        "network.ethernets.enc1",
        "addresses",
    );
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: []\n",
        "network.ethernets.enc1.addresses",
        "at least one",
    );
    for bad in [
        "192.168.1.2",
        "192.168.1.256/24",
        "192.168.1.2/33",
        "192.168.1.2/08",
        "fe80::1/64",
        "1.2.3/8",
    ] {
        refused_at(
            &format!("network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [\"{bad}\"]\n"),
            "network.ethernets.enc1.addresses[0]",
            "IPv4 address with a prefix",
        );
    }
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: true\n      mtu: \"1500\"\n",
        "network.ethernets.enc1.mtu",
        "integer",
    );
    refused_at(
        "network:\n  version: two\n  ethernets:\n    enc1:\n      dhcp4: true\n",
        "network.version",
        "integer",
    );
    refused_at("network:\n  version: 2\n", "network", "ethernets");
    refused_at(
        "network:\n  ethernets: {}\n",
        "network.ethernets",
        "at least one",
    );
    refused_at("version: 2\n", "", "`network` is required");
    refused_at("", "", "`network` is required");
    refused_at("- a\n- b\n", "", "mapping");
    refused_at("network: [1]\n", "network", "mapping");
    refused_at(
        r#"{"network": {"ethernets": {"enc1": {"dhcp4": true}}}}"#,
        "",
        "YAML, not JSON",
    );
    refused_at("network: {\n", "", "not valid YAML");
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [1.2.3.4/24]\n      nameservers:\n        search: [a]\n",
        "network.ethernets.enc1.nameservers",
        "`addresses` is required",
    );
    refused_at(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [1.2.3.4/24]\n      routes:\n        - to: 1\n",
        "network.ethernets.enc1.routes[0].to",
        "string",
    );
}

#[test]
fn addresses_ibm_does_not_check_are_warnings() {
    let report = check(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [1.2.3.4/24]\n      gateway4: gateway.example\n",
    );
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].path, "network.ethernets.enc1.gateway4");
    assert!(accepted(IBM_SAMPLE));
    assert!(check(IBM_SAMPLE).warnings.is_empty());
}

#[test]
fn findings_never_quote_values() {
    let secretish = "s3cr3t-value-xyz";
    let text = format!(
        "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [\"{secretish}\"]\n      gateway4: {secretish}\n"
    );
    let report = check(&text);
    for f in report.errors.iter().chain(&report.warnings) {
        assert!(
            !f.message.contains(secretish) && !f.path.contains(secretish),
            "{f:?}"
        );
    }
}
