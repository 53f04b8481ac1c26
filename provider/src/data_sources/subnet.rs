//! `hyperprotect_subnet`: a subnet of the provider's region, looked up by name (and VPC,
//! when names repeat across VPCs).

use super::vpc::list_or_none;
use crate::cloud::Subnet;
use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::runtime::diag::{AttrPath, Diagnostic};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Number, Type, Value};

pub struct HyperprotectSubnet;

fn subnet_state(name: &str, vpc_config: &Value, s: &Subnet) -> Value {
    let text = |v: Option<String>| Value::string(v.unwrap_or_default());
    Value::object([
        ("name", Value::string(name)),
        ("vpc", vpc_config.clone()),
        ("id", Value::string(s.id.clone())),
        ("crn", Value::string(s.crn.clone())),
        ("status", text(s.status.clone())),
        ("zone", text(s.zone.as_ref().map(|z| z.name.clone()))),
        ("vpc_id", text(s.vpc.as_ref().map(|v| v.id.clone()))),
        ("ipv4_cidr_block", text(s.ipv4_cidr_block.clone())),
        (
            "available_ipv4_address_count",
            Value::number(Number::from_u64(
                s.available_ipv4_address_count.unwrap_or(0),
            )),
        ),
        (
            "resource_group",
            text(s.resource_group.as_ref().map(|r| r.id.clone())),
        ),
    ])
}

#[async_trait::async_trait]
impl DataSource for HyperprotectSubnet {
    fn type_name(&self) -> &'static str {
        "hyperprotect_subnet"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::required("name", Type::String).describe("Name of the subnet."),
                Attribute::optional("vpc", Type::String).describe(
                    "Id of the subnet's VPC; needed only when several VPCs have a subnet of this name.",
                ),
                Attribute::computed("id", Type::String).describe("Subnet id, for `hyperprotect_instance.subnet`."),
                Attribute::computed("crn", Type::String).describe("Subnet CRN."),
                Attribute::computed("status", Type::String).describe("Subnet status, e.g. `available`."),
                Attribute::computed("zone", Type::String).describe("Zone of the subnet, e.g. `us-south-1`."),
                Attribute::computed("vpc_id", Type::String).describe("Id of the subnet's VPC."),
                Attribute::computed("ipv4_cidr_block", Type::String).describe("IPv4 range of the subnet."),
                Attribute::computed("available_ipv4_address_count", Type::Number)
                    .describe("Free IPv4 addresses in the subnet."),
                Attribute::computed("resource_group", Type::String).describe("Id of the subnet's resource group."),
            ])
            .describe("A subnet of the provider's region, found by its name."),
        )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome {
        let name = get(config, "name").as_str().unwrap_or_default().to_string();
        let vpc = get(config, "vpc").as_str().map(str::to_string);
        let vpc_filter = vpc.clone();
        let listed = cloud_call(ctx, "Cannot list subnets", READ_TIMEOUT, |c| async move {
            c.list_subnets(vpc_filter.as_deref()).await
        })
        .await;
        let subnets = match listed {
            Ok(s) => s,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let matching: Vec<&Subnet> = subnets.iter().filter(|s| s.name == name).collect();
        let where_ = vpc
            .as_ref()
            .map(|v| format!(" of VPC {v}"))
            .unwrap_or_default();
        match matching.as_slice() {
            [one] => Outcome::ok(subnet_state(&name, get(config, "vpc"), one)),
            [] => {
                let mut names: Vec<&str> = subnets.iter().map(|s| s.name.as_str()).collect();
                names.sort_unstable();
                Outcome::failed(
                    Value::Null,
                    Diagnostic::error(
                        "Subnet not found",
                        format!(
                            "No subnet named {name:?}{where_} (subnets there: {}).",
                            list_or_none(&names)
                        ),
                    )
                    .at(AttrPath::attr("name")),
                )
            }
            many => {
                let vpcs: Vec<&str> = many
                    .iter()
                    .filter_map(|s| s.vpc.as_ref())
                    .map(|v| v.id.as_str())
                    .collect();
                Outcome::failed(
                    Value::Null,
                    Diagnostic::error(
                        "Subnet name is ambiguous",
                        format!(
                            "{} subnets are named {name:?} (in VPCs {}): set `vpc` to the id of the one you mean.",
                            many.len(),
                            vpcs.join(", ")
                        ),
                    )
                    .at(AttrPath::attr("vpc")),
                )
            }
        }
    }
}
