//! List resources (Terraform ≥ 1.14, `terraform query`): validate a `list` block's config and
//! stream the objects found, each with its identity and, when asked, its full state.

use super::{decode, encode, require_known, GrpcProvider, Served};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::{ListRequest, ListResource, Provider};
use crate::runtime::proto::tfplugin6 as pb;
use crate::runtime::schema::rules;
use crate::runtime::value::{Type, Value};

impl<P: Provider> GrpcProvider<P> {
    fn list_resource(&self, type_name: &str) -> Result<&Served<dyn ListResource>, Diagnostics> {
        self.list_resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown list resource type",
                format!("This provider has no list resource type {type_name:?}."),
            )
            .into()
        })
    }

    pub(super) fn validate_list(
        &self,
        req: pb::validate_list_resource_config::Request,
    ) -> pb::validate_list_resource_config::Response {
        let diags = (|| -> Result<Diagnostics, Diagnostics> {
            let served = self.list_resource(&req.type_name)?;
            let config = decode(req.config.as_ref(), &served.ty, "list configuration")?;
            let mut diags = rules::check(&served.schema.block, &config, &AttrPath::root());
            served.imp.validate(&self.ctx(), &config, &mut diags);
            Ok(diags)
        })()
        .unwrap_or_else(|d| d);
        pb::validate_list_resource_config::Response {
            diagnostics: diags.to_proto(),
        }
    }

    /// Every event of one ListResource call; a failure is one event carrying the diagnostics.
    pub(super) async fn list(
        &self,
        req: pb::list_resource::Request,
    ) -> Vec<pb::list_resource::Event> {
        let result: Result<Vec<pb::list_resource::Event>, Diagnostics> = async {
            let served = self.list_resource(&req.type_name)?;
            // The results are objects of the managed resource type of the same name.
            let resource = self.resource(&req.type_name)?;
            let Some((_, identity_ty)) = &resource.identity else {
                return Err(Diagnostic::error(
                    "List resource without identity",
                    format!(
                        "{} is listed but has no resource identity. This is a bug in the provider.",
                        req.type_name
                    ),
                )
                .into());
            };
            let config = decode(req.config.as_ref(), &served.ty, "list configuration")?;
            tracing::info!(list_resource = req.type_name, "listing");
            let broken = rules::check(&served.schema.block, &config, &AttrPath::root());
            if broken.has_errors() {
                return Err(broken);
            }
            let found = served
                .imp
                .list(
                    &self.ctx(),
                    ListRequest {
                        config: &config,
                        include_resource_object: req.include_resource_object,
                        limit: req.limit,
                    },
                )
                .await?;
            let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
            found
                .into_iter()
                .take(limit)
                .map(|item| {
                    let identity = encode_known(&item.identity, identity_ty, "listed identity")?;
                    let resource_object = match (&item.state, req.include_resource_object) {
                        (Some(state), true) => {
                            Some(encode_known(state, &resource.ty, "listed resource object")?)
                        }
                        _ => None,
                    };
                    Ok(pb::list_resource::Event {
                        identity: Some(pb::ResourceIdentityData {
                            identity_data: Some(identity),
                        }),
                        display_name: item.display_name,
                        resource_object,
                        diagnostic: vec![],
                    })
                })
                .collect()
        }
        .await;
        result.unwrap_or_else(|d| {
            vec![pb::list_resource::Event {
                diagnostic: d.to_proto(),
                ..Default::default()
            }]
        })
    }
}

fn encode_known(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    require_known(value, what)?;
    encode(value, ty, what)
}
