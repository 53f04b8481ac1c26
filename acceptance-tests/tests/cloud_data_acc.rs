//! Acceptance tests of the cloud data sources (`hyperprotect_image`,
//! `hyperprotect_instance_profiles`, `hyperprotect_vpc`, `hyperprotect_subnet`) and the
//! provider's cloud configuration, with the real Terraform CLI against a mock-cloud started
//! in-process on a fresh data folder per test. The provider talks to mock-cloud exactly as
//! to IBM Cloud (IAM + VPC endpoints from the provider block); only the tests use
//! `/_mock/faults`.

use acceptance_tests::harness::{ProviderUnderTest, Step, TestCase};
use acceptance_tests::mock_cloud::{Config, MockCloud, PkiMode};
use serde_json::json;

const HPCR_29_ID: &str = "r006-7a9e4c3d-2b1f-4e8a-b6c5-1d0f3e2a9b29";
const HPCR_29_SHA256: &str = "e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c5b9f2a0c6de5e9d3b0b1e4c7a4e8";

/// A mock-cloud on its own runtime, for the life of one test.
struct Cloud {
    runtime: tokio::runtime::Runtime,
    mock: Option<MockCloud>,
    _dir: tempfile::TempDir,
    url: String,
}

impl Cloud {
    fn start() -> Cloud {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("data dir");
        let mut config = Config::new(dir.path());
        config.pki = PkiMode::Disabled;
        config.api_key = Some("acc-test-key".into());
        let mock = runtime
            .block_on(MockCloud::start(config))
            .expect("mock-cloud");
        let url = mock.url().to_string();
        Cloud {
            runtime,
            mock: Some(mock),
            _dir: dir,
            url,
        }
    }

    /// A hook that replaces mock-cloud's faults (JSON as `PUT /_mock/faults` takes it).
    fn set_faults(&self, faults: serde_json::Value) -> impl Fn(&std::path::Path) + 'static {
        let handle = self.runtime.handle().clone();
        let url = format!("{}/_mock/faults", self.url);
        move |_| {
            let (url, faults) = (url.clone(), faults.clone());
            handle.block_on(async move {
                let r = reqwest::Client::new()
                    .put(&url)
                    .json(&faults)
                    .send()
                    .await
                    .expect("PUT faults");
                assert!(r.status().is_success(), "PUT faults: {}", r.status());
            });
        }
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(m) = self.mock.take() {
            let _ = self.runtime.block_on(m.shutdown());
        }
    }
}

fn provider_block(url: &str, api_key: Option<&str>) -> String {
    let key = api_key
        .map(|k| format!("  api_key      = \"{k}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}
provider "hyperprotect" {{
{key}  region       = "us-south"
  iam_endpoint = "{url}"
  vpc_endpoint = "{url}"
  max_retries  = 20
}}
"#
    )
}

fn lookups(url: &str, image_version: &str, vpc: &str) -> String {
    format!(
        r#"{provider}
data "hyperprotect_image" "hpcr" {{
  version      = "{image_version}"
  architecture = "s390x"
}}

data "hyperprotect_instance_profiles" "se" {{
  secure_execution = true
}}

data "hyperprotect_instance_profiles" "tdx" {{
  confidential_compute_mode = "tdx"
  min_memory                = 8
}}

data "hyperprotect_vpc" "main" {{
  name = "{vpc}"
}}

data "hyperprotect_subnet" "zone1" {{
  name = "mock-subnet-1"
  vpc  = data.hyperprotect_vpc.main.id
}}

output "se_profiles" {{
  value = [for p in data.hyperprotect_instance_profiles.se.profiles : p.name]
}}
"#,
        provider = provider_block(url, Some("acc-test-key")),
    )
}

const IMAGE: &str = "data.hyperprotect_image.hpcr";
const SE: &str = "data.hyperprotect_instance_profiles.se";
const TDX: &str = "data.hyperprotect_instance_profiles.tdx";
const VPC: &str = "data.hyperprotect_vpc.main";
const SUBNET: &str = "data.hyperprotect_subnet.zone1";

fn check_lookups(s: &acceptance_tests::harness::StateJson) -> Result<(), String> {
    s.expect(IMAGE, "id", json!(HPCR_29_ID))?;
    s.expect(
        IMAGE,
        "name",
        json!("ibm-hyper-protect-container-runtime-1-0-s390x-29"),
    )?;
    s.expect(IMAGE, "image_version", json!("1.0.29"))?;
    s.expect(IMAGE, "checksum", json!(HPCR_29_SHA256))?;
    s.expect(IMAGE, "os", json!("hyper-protect-1-0-s390x-hpcr"))?;

    s.expect(SE, "profiles/0/name", json!("bz2e-1x4"))?;
    s.expect(SE, "profiles/1/name", json!("bz2e-2x8"))?;
    s.expect(SE, "profiles/1/architecture", json!("s390x"))?;
    s.expect(SE, "profiles/1/secure_execution", json!(true))?;
    s.expect(SE, "profiles/1/vcpu_count", json!(2))?;
    s.expect(SE, "profiles/1/memory", json!(8))?;
    if s.attr(SE, "profiles/2").is_some() {
        return Err("only the two Secure Execution profiles match".into());
    }
    s.expect(TDX, "profiles/0/name", json!("bx3dc-2x10"))?;
    s.expect(TDX, "profiles/0/secure_execution", json!(false))?;
    s.expect(
        TDX,
        "profiles/0/default_confidential_compute_mode",
        json!("tdx"),
    )?;
    let modes = s
        .attr(TDX, "profiles/0/confidential_compute_modes")
        .cloned()
        .unwrap_or_default();
    if !modes
        .as_array()
        .is_some_and(|m| m.contains(&json!("tdx")) && m.contains(&json!("sgx")))
    {
        return Err(format!("confidential_compute_modes: {modes}"));
    }
    if s.attr(TDX, "profiles/1").is_some() {
        return Err("only bx3dc-2x10 offers tdx".into());
    }

    s.expect(VPC, "name", json!("mock-vpc"))?;
    let vpc_id = s
        .attr(VPC, "id")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    if !vpc_id.starts_with("r006-") {
        return Err(format!("vpc id {vpc_id:?}"));
    }
    s.expect(VPC, "status", json!("available"))?;
    s.expect(SUBNET, "vpc_id", json!(vpc_id))?;
    s.expect(SUBNET, "zone", json!("us-south-1"))?;
    s.expect(SUBNET, "ipv4_cidr_block", json!("10.240.0.0/18"))?;
    let subnet_id = s.attr(SUBNET, "id").and_then(|v| v.as_str()).unwrap_or("");
    if subnet_id.is_empty() || subnet_id == vpc_id {
        return Err(format!("subnet id {subnet_id:?}"));
    }
    Ok(())
}

#[test]
fn test_acc_cloud_data_sources() {
    let cloud = Cloud::start();
    let url = cloud.url.clone();
    TestCase {
        name: "test_acc_cloud_data_sources",
        providers: vec![ProviderUnderTest::hyperprotect()],
        env: vec![],
        steps: vec![
            Step::config(
                "read every look-up",
                lookups(&url, ">= 1.0.20, < 1.1", "mock-vpc"),
            )
            .check(check_lookups),
            Step::config(
                "a 429/5xx storm still converges",
                lookups(&url, ">= 1.0.20, < 1.1", "mock-vpc"),
            )
            .pre_config(cloud.set_faults(json!({
                "rate_429": 0.5, "retry_after_secs": 1, "rate_5xx": 0.3, "status_5xx": 503
            })))
            .check(check_lookups),
            Step::config("no image matches", lookups(&url, "1.0.28", "mock-vpc"))
                .pre_config(cloud.set_faults(json!({})))
                .expect_error(
                    r"(?s)No matching Hyper Protect image.*`1\.0\.28`.*versions\s+1\.0\.29",
                ),
            Step::config(
                "a bad constraint is refused",
                lookups(&url, ">>1", "mock-vpc"),
            )
            .expect_error(r"(?s)Invalid version constraint.*>>1"),
            Step::config("an unknown VPC is named", lookups(&url, "*", "no-such-vpc"))
                .expect_error(r#"(?s)VPC not found.*"no-such-vpc".*there:\s+mock-vpc"#),
        ],
        check_destroy: None,
    }
    .run();
}

#[test]
fn test_acc_cloud_missing_credentials_name_the_variable() {
    let cloud = Cloud::start();
    let config = format!(
        "{}\ndata \"hyperprotect_vpc\" \"main\" {{\n  name = \"mock-vpc\"\n}}\n",
        provider_block(&cloud.url, None)
    );
    let wrong_key = format!(
        "{}\ndata \"hyperprotect_vpc\" \"main\" {{\n  name = \"mock-vpc\"\n}}\n",
        provider_block(&cloud.url, Some("wrong-key-s3cr3t"))
    );
    // A provider block with no cloud object needs no account.
    let no_cloud_object = format!(
        "{}\noutput \"ok\" {{\n  value = \"contract-only configurations need no API key\"\n}}\n",
        provider_block(&cloud.url, None)
    );
    TestCase {
        name: "test_acc_cloud_missing_credentials_name_the_variable",
        providers: vec![ProviderUnderTest::hyperprotect()],
        env: vec![
            ("IC_API_KEY".into(), String::new()),
            ("IBMCLOUD_API_KEY".into(), String::new()),
        ],
        steps: vec![
            Step::config("no cloud object, no key needed", no_cloud_object),
            Step::config("missing key", config)
                .expect_error(r"(?s)Missing IBM Cloud API key.*`IC_API_KEY`\s+or\s+`IBMCLOUD_API_KEY`"),
            Step::config("wrong key: IAM's answer, never the key", wrong_key).expect_error(
                r"(?s)Cannot list VPCs.*BXNIM0415E:\s+Provided\s+API\s+key\s+could\s+not\s+be\s+found",
            ),
        ],
        check_destroy: None,
    }
    .run();
}
