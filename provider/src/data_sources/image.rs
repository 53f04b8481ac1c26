//! `hyperprotect_image`: the newest Hyper Protect image in the region whose version matches
//! a semver constraint, read from the VPC API and chosen by the contract engine's image
//! selection (public, `available`, s390x, Hyper Protect OS and name).

use crate::contract::image::{select_image, ImageError};
use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Type, Value};

pub struct HyperprotectImage;

#[async_trait::async_trait]
impl DataSource for HyperprotectImage {
    fn type_name(&self) -> &'static str {
        "hyperprotect_image"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::optional("version", Type::String).describe(
                    "Semantic version constraint on the image version (`1.0.22` for \
                     `ibm-hyper-protect-container-runtime-1-0-s390x-22`), e.g. `>=1.0.22`, \
                     `~1.0`, `>=1.0.20, <1.1`, alternatives joined with `||`. Default: any.",
                ),
                Attribute::optional("architecture", Type::String).describe(
                    "Only images of this architecture (`s390x`, the only one Hyper Protect \
                     images have). Default: any.",
                ),
                Attribute::computed("id", Type::String)
                    .describe("Image id, for `hyperprotect_instance.image`."),
                Attribute::computed("name", Type::String).describe("Image name."),
                Attribute::computed("image_version", Type::String)
                    .describe("The chosen image's version (`major.minor.patch`)."),
                Attribute::computed("checksum", Type::String)
                    .describe("SHA-256 of the image file (empty when the API gives none)."),
                Attribute::computed("os", Type::String)
                    .describe("Operating system name, e.g. `hyper-protect-1-0-s390x-hpcr`."),
            ])
            .describe(
                "The newest available Hyper Protect Container Runtime image matching a version \
                 constraint, from the IBM Cloud VPC image catalog of the provider's region.",
            ),
        )
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if let Some(v) = get(config, "version").as_str() {
            if let Err(e) = crate::contract::image::VersionConstraint::parse(v) {
                diags.error_at(
                    AttrPath::attr("version"),
                    "Invalid version constraint",
                    e.to_string(),
                );
            }
        }
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome {
        let constraint = get(config, "version").as_str().unwrap_or("").to_string();
        let arch = get(config, "architecture").as_str().map(str::to_string);
        let listed = cloud_call(ctx, "Cannot list images", READ_TIMEOUT, |c| async move {
            c.list_images_json(&[("visibility", "public"), ("status", "available")])
                .await
        })
        .await;
        let mut images = match listed {
            Ok(i) => i,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        if let Some(a) = &arch {
            images.retain(|i| i["operating_system"]["architecture"].as_str() == Some(a.as_str()));
        }
        let catalog = serde_json::json!({ "images": images }).to_string();
        let chosen = match select_image(&catalog, &constraint) {
            Ok(c) => c,
            Err(e @ ImageError::Constraint(_)) => {
                return Outcome::failed(
                    Value::Null,
                    Diagnostic::error("Invalid version constraint", e.to_string())
                        .at(AttrPath::attr("version")),
                )
            }
            Err(e) => {
                let arch_note = arch
                    .map(|a| format!(" with architecture {a}"))
                    .unwrap_or_default();
                return Outcome::failed(
                    Value::Null,
                    Diagnostic::error(
                        "No matching Hyper Protect image",
                        format!("{e}{arch_note}."),
                    )
                    .at(AttrPath::attr("version")),
                );
            }
        };
        let os = images
            .iter()
            .find(|i| i["id"].as_str() == Some(chosen.id.as_str()))
            .and_then(|i| i["operating_system"]["name"].as_str())
            .unwrap_or_default()
            .to_string();
        Outcome::ok(Value::object([
            ("version", get(config, "version").clone()),
            ("architecture", get(config, "architecture").clone()),
            ("id", Value::string(chosen.id)),
            ("name", Value::string(chosen.name)),
            ("image_version", Value::string(chosen.version.to_string())),
            (
                "checksum",
                Value::string(chosen.checksum.unwrap_or_default()),
            ),
            ("os", Value::string(os)),
        ]))
    }
}
