//! List resource `hyperprotect_instance` (Terraform ≥ 1.14): `terraform query` finds the
//! region's instances (filtered by name prefix, VPC, zone, image family, Hyper Protect only)
//! and names each by the managed resource's identity; with `-generate-config-out` it also
//! returns each instance's state as an import would read it, from which Terraform writes
//! configuration. `user_data` is never returned by the VPC API, so that configuration lacks
//! the contract: the user adds it (see the resource docs).

use std::collections::HashMap;

use crate::cloud::models::{Image, Instance as CloudInstance};
use crate::model;
use crate::provider_data::catalog::is_hyper_protect;
use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::resources::instance::state::identity_of;
use crate::resources::instance::InstanceResource;
use crate::runtime::diag::Diagnostics;
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, ListRequest, ListResource, Listed, Resource};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, ToValue, Type};

/// Lists `hyperprotect_instance`s; the managed resource reads each one's state.
pub struct InstanceListResource;

model! {
    /// The list block's `config`: the filters.
    pub struct InstanceFilters {
        pub name_prefix: Known<String>,
        pub vpc: Known<String>,
        pub zone: Known<String>,
        pub image_family: Known<String>,
        pub hyper_protect_only: Known<bool>,
    }
}

impl InstanceFilters {
    /// Whether the instance's image must be looked up.
    fn needs_image(&self) -> bool {
        self.image_family.is_set() || self.hyper_protect_only == Known::Value(true)
    }

    /// The filters the instance alone can answer.
    fn keeps(&self, api: &CloudInstance) -> bool {
        let zone = api.zone.as_ref().map(|z| z.name.as_str());
        let name_prefix = self.name_prefix.as_deref().value();
        name_prefix.is_none_or(|p| api.name.starts_with(p))
            && self.zone.as_deref().value().is_none_or(|z| zone == Some(z))
    }

    /// The filters on the instance's image (`None`: the image is gone or unreadable).
    fn keeps_image(&self, image: Option<&Image>) -> bool {
        let Some(image) = image else {
            return !self.needs_image();
        };
        let os = image.operating_system.as_ref();
        let family_matches = self
            .image_family
            .as_deref()
            .value()
            .is_none_or(|family| os.is_some_and(|os| os.name == family || os.family == family));
        let hyper_protect_only = self.hyper_protect_only == Known::Value(true);
        family_matches && (!hyper_protect_only || is_hyper_protect(image))
    }
}

#[async_trait::async_trait]
impl ListResource for InstanceListResource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_instance"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::optional("name_prefix", Type::String)
                    .not_empty()
                    .describe("Only instances whose name starts with this."),
                Attribute::optional("vpc", Type::String)
                    .not_empty()
                    .describe("Only instances in this VPC (its id)."),
                Attribute::optional("zone", Type::String)
                    .not_empty()
                    .describe("Only instances in this zone, e.g. `us-south-2`."),
                Attribute::optional("image_family", Type::String)
                    .not_empty()
                    .describe(
                        "Only instances booted from an image of this family: its operating system \
                     name (e.g. `hyper-protect-1-0-s390x-hpcr`, every version of one Hyper \
                     Protect image) or the operating system's family (e.g. `Hyper Protect`, \
                     `Ubuntu Linux`).",
                    ),
                Attribute::optional("hyper_protect_only", Type::Bool).describe(
                    "Only Hyper Protect guests (booted from a Hyper Protect Container Runtime \
                     image). Default `false`: every instance, x86 confidential servers too.",
                ),
            ])
            .describe(
                "Finds the region's virtual server instances for `terraform query`, e.g. \
                 Hyper Protect servers created by hand that Terraform should manage until \
                 they retire. With `-generate-config-out` each comes with its configuration \
                 and an `import` block by identity, which apply as a pure import. The VPC API \
                 never returns `user_data`, so the generated configuration has `user_data = \
                 null`: set it to the contract the server runs; right after the import that \
                 changes the state in place and never replaces the server.",
            ),
        )
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(InstanceFilters::fields())
    }

    async fn list(&self, ctx: &Ctx, req: ListRequest<'_>) -> Result<Vec<Listed>, Diagnostics> {
        let filters = InstanceFilters::build(req.config)?;
        let server_side: Vec<(&str, &str)> = filters
            .vpc
            .as_deref()
            .value()
            .map(|vpc| ("vpc.id", vpc))
            .into_iter()
            .collect();
        let instances = cloud_call(ctx, "Cannot list instances", READ_TIMEOUT, |c| async move {
            c.list_instances(&server_side).await
        })
        .await?;
        let mut images: HashMap<String, Option<Image>> = HashMap::new();
        let mut found = Vec::new();
        let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
        for api in instances.iter().filter(|api| filters.keeps(api)) {
            if found.len() >= limit {
                break;
            }
            if filters.needs_image() {
                let image = match &api.image {
                    Some(image) => {
                        if !images.contains_key(&image.id) {
                            // An image deleted since the boot reads as "not of the family".
                            let got = cloud_call(ctx, "Cannot read an image", READ_TIMEOUT, |c| {
                                let id = image.id.clone();
                                async move { c.get_image(&id).await }
                            })
                            .await
                            .ok();
                            images.insert(image.id.clone(), got);
                        }
                        images[&image.id].as_ref()
                    }
                    None => None,
                };
                if !filters.keeps_image(image) {
                    continue;
                }
            }
            found.push(self.listed(ctx, api, req.include_resource_object).await?);
        }
        Ok(found)
    }
}

impl InstanceListResource {
    /// One found instance: its identity, and its state as an import reads it when asked.
    async fn listed(
        &self,
        ctx: &Ctx,
        api: &CloudInstance,
        with_state: bool,
    ) -> Result<Listed, Diagnostics> {
        let zone = api.zone.as_ref().map(|z| z.name.as_str());
        let state = if with_state {
            let imported = InstanceResource.import(ctx, &api.id).await?;
            let read = InstanceResource.read(ctx, imported, Vec::new()).await;
            if read.diagnostics.has_errors() {
                return Err(read.diagnostics);
            }
            Some(read.state)
        } else {
            None
        };
        Ok(Listed {
            display_name: format!("{} ({}, {})", api.name, api.id, zone.unwrap_or("no zone")),
            identity: identity_of(&api.id, zone).to_value(),
            state,
        })
    }
}
