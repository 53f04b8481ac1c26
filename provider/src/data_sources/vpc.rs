//! `hyperprotect_vpc`: a VPC of the provider's region, looked up by name.

use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::runtime::diag::{AttrPath, Diagnostic};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Type, Value};

pub struct HyperprotectVpc;

#[async_trait::async_trait]
impl DataSource for HyperprotectVpc {
    fn type_name(&self) -> &'static str {
        "hyperprotect_vpc"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::required("name", Type::String).describe("Name of the VPC."),
                Attribute::computed("id", Type::String)
                    .describe("VPC id, for `hyperprotect_instance.vpc`."),
                Attribute::computed("crn", Type::String).describe("VPC CRN."),
                Attribute::computed("status", Type::String)
                    .describe("VPC status, e.g. `available`."),
                Attribute::computed("resource_group", Type::String)
                    .describe("Id of the VPC's resource group."),
            ])
            .describe("A VPC of the provider's region, found by its name."),
        )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome {
        let name = get(config, "name").as_str().unwrap_or_default().to_string();
        let listed = cloud_call(ctx, "Cannot list VPCs", READ_TIMEOUT, |c| async move {
            c.list_vpcs().await
        })
        .await;
        let vpcs = match listed {
            Ok(v) => v,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let Some(vpc) = vpcs.iter().find(|v| v.name == name) else {
            let mut names: Vec<&str> = vpcs.iter().map(|v| v.name.as_str()).collect();
            names.sort_unstable();
            return Outcome::failed(
                Value::Null,
                Diagnostic::error(
                    "VPC not found",
                    format!(
                        "No VPC named {name:?} in the provider's region (VPCs there: {}).",
                        list_or_none(&names)
                    ),
                )
                .at(AttrPath::attr("name")),
            );
        };
        Outcome::ok(Value::object([
            ("name", Value::string(name.clone())),
            ("id", Value::string(vpc.id.clone())),
            ("crn", Value::string(vpc.crn.clone())),
            (
                "status",
                Value::string(vpc.status.clone().unwrap_or_default()),
            ),
            (
                "resource_group",
                Value::string(
                    vpc.resource_group
                        .as_ref()
                        .map(|r| r.id.clone())
                        .unwrap_or_default(),
                ),
            ),
        ]))
    }
}

/// `a, b, c` or `none` for "not found" messages.
pub(crate) fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
