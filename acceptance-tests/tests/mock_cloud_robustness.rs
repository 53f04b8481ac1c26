//! mock-cloud: arbitrary request bodies never produce a 5xx or kill a connection (no
//! panics), and every refusal is a VPC error body naming what is wrong.

mod mock_cloud_support;

use mock_cloud_support::*;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const KEYS: &[&str] = &[
    "name",
    "profile",
    "image",
    "zone",
    "vpc",
    "id",
    "crn",
    "href",
    "subnet",
    "primary_network_interface",
    "primary_network_attachment",
    "virtual_network_interface",
    "primary_ip",
    "address",
    "keys",
    "user_data",
    "boot_volume_attachment",
    "volume_attachments",
    "volume",
    "capacity",
    "confidential_compute_mode",
    "enable_secure_boot",
    "metadata_service",
    "response_hop_limit",
    "protocol",
    "type",
    "force",
    "public_key",
    "ipv4_cidr_block",
    "total_ipv4_address_count",
    "resource_group",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9_./ -]{0,12}".prop_map(Value::from),
        Just(json!("us-south-2")),
        Just(json!("bz2e-1x4")),
        Just(json!("tdx")),
        Just(json!("10.0.0.0/24")),
        Just(json!("255.255.255.248/29")),
        Just(json!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAAA==")),
        Just(json!(4_294_967_295u64)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    mock: Mock,
    valid: Value,
    instance: String,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mock, valid, instance) = rt.block_on(async {
        let m = Mock::start().await;
        let valid = m.prototype("fuzz-base", "bx3dc-2x10", UBUNTU_AMD64).await;
        let id = m.create_plain("fuzz-target").await;
        m.wait_status(&id, "running").await;
        (m, valid, id)
    });
    Fixture {
        rt,
        mock,
        valid,
        instance,
    }
}

fn check(r: &Resp, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(r.status.as_u16() < 500, "{what}: {} {}", r.status, r.text);
    if r.status.is_client_error() {
        prop_assert!(
            !r.code().is_empty(),
            "{what}: 4xx without a VPC error code: {}",
            r.text
        );
        let msg = r.body["errors"][0]["message"].as_str().unwrap_or("");
        prop_assert!(!msg.is_empty(), "{what}: empty message");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_are_refused_cleanly(body in value(), field in prop::sample::select(KEYS), replacement in value()) {
        thread_local!(static FX: Fixture = fixture());
        FX.with(|fx| {
            let m = &fx.mock;
            let id = &fx.instance;
            fx.rt.block_on(async {
                for path in ["/instances", "/vpcs", "/subnets", "/keys"] {
                    let r = m.post(path, body.clone()).await;
                    check(&r, path)?;
                }
                // A valid prototype with one field replaced by something arbitrary.
                let mut p = fx.valid.clone();
                p["name"] = json!(format!("fz-{}", &uuid_suffix()));
                p[field] = replacement.clone();
                let r = m.post("/instances", p).await;
                check(&r, &format!("instances with {field}"))?;
                let r = m.patch(&format!("/instances/{id}"), body.clone()).await;
                check(&r, "patch")?;
                let r = m.post(&format!("/instances/{id}/actions"), body.clone()).await;
                check(&r, "action")?;
                if r.status.is_success() {
                    // Leave the target running for the next case.
                    let action = r.body["type"].as_str().unwrap_or("");
                    if action == "stop" {
                        m.wait_status(id, "stopped").await;
                        m.post(&format!("/instances/{id}/actions"), json!({"type": "start"})).await;
                    }
                    m.wait_status(id, "running").await;
                }
                Ok::<(), TestCaseError>(())
            })
        })?;
    }
}

fn uuid_suffix() -> String {
    let mut b = [0u8; 6];
    openssl::rand::rand_bytes(&mut b).unwrap();
    hex::encode(b)
}
