//! Resource identity (Terraform ≥ 1.12): the identity schemas, identity upgrades, the identity
//! derived from a state after read, apply and import, and import by identity.

use super::{decode, encode, GrpcProvider, Served};
use crate::runtime::diag::{Diagnostic, Diagnostics};
use crate::runtime::framework::{Provider, Resource};
use crate::runtime::proto::tfplugin6 as pb;
use crate::runtime::value::{json, Value};

/// The identity of the object `state` describes, encoded for the wire; `None` when the
/// resource has no identity.
pub(super) fn of_state(
    served: &Served<dyn Resource>,
    state: &Value,
) -> Result<Option<pb::ResourceIdentityData>, Diagnostics> {
    let Some((_, ty)) = &served.identity else {
        return Ok(None);
    };
    let Some(identity) = served.imp.identity(state) else {
        return Ok(None);
    };
    if !identity.is_wholly_known() || identity.is_null() {
        return Err(Diagnostic::error(
            "Provider produced an incomplete identity",
            "The resource identity has unknown or null values. This is a bug in the provider.",
        )
        .into());
    }
    Ok(Some(pb::ResourceIdentityData {
        identity_data: Some(encode(&identity, ty, "resource identity")?),
    }))
}

impl<P: Provider> GrpcProvider<P> {
    pub(super) fn identity_schemas(&self) -> pb::get_resource_identity_schemas::Response {
        pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(n, r)| Some((n.to_string(), r.identity.as_ref()?.0.to_proto())))
                .collect(),
            diagnostics: vec![],
        }
    }

    pub(super) fn upgrade_identity(
        &self,
        req: pb::upgrade_resource_identity::Request,
    ) -> pb::upgrade_resource_identity::Response {
        let result = (|| -> Result<pb::ResourceIdentityData, Diagnostics> {
            let served = self.resource(&req.type_name)?;
            let Some((schema, ty)) = &served.identity else {
                return Err(Diagnostic::error(
                    "Resource has no identity",
                    format!(
                        "The state holds an identity for {}, which has none in this provider.",
                        req.type_name
                    ),
                )
                .into());
            };
            let raw = req
                .raw_identity
                .as_ref()
                .map(|r| r.json.as_slice())
                .unwrap_or_default();
            let value = match req.version.cmp(&schema.version) {
                std::cmp::Ordering::Equal => json::decode(raw, ty).map_err(|e| {
                    Diagnostics::from(Diagnostic::error(
                        "Invalid stored identity",
                        format!(
                            "The stored identity of {} could not be read: {e}",
                            req.type_name
                        ),
                    ))
                })?,
                std::cmp::Ordering::Less => served.imp.upgrade_identity(req.version, raw)?,
                std::cmp::Ordering::Greater => {
                    return Err(Diagnostic::error(
                        "Identity from a newer provider",
                        format!(
                            "The identity of {} was written at version {}, newer than this \
                             provider's {}. Use a newer provider version.",
                            req.type_name, req.version, schema.version
                        ),
                    )
                    .into())
                }
            };
            Ok(pb::ResourceIdentityData {
                identity_data: Some(encode(&value, ty, "upgraded identity")?),
            })
        })();
        match result {
            Ok(identity) => pb::upgrade_resource_identity::Response {
                upgraded_identity: Some(identity),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_identity::Response {
                upgraded_identity: None,
                diagnostics: d.to_proto(),
            },
        }
    }

    /// Imports by id or, when the request carries one, by identity. Returns the state to
    /// import and its identity.
    pub(super) async fn import(
        &self,
        served: &Served<dyn Resource>,
        req: &pb::import_resource_state::Request,
    ) -> Result<(Value, Option<pb::ResourceIdentityData>), Diagnostics> {
        let ctx = self.ctx();
        let given = req.identity.as_ref().and_then(|i| i.identity_data.as_ref());
        let state = match (given, &served.identity) {
            (Some(data), Some((_, ty))) => {
                let identity = decode(Some(data), ty, "identity to import")?;
                served.imp.import_by_identity(&ctx, &identity).await?
            }
            (Some(_), None) => {
                return Err(Diagnostic::error(
                    "Import by identity not supported",
                    format!(
                        "{} has no resource identity; import it by id instead.",
                        req.type_name
                    ),
                )
                .into())
            }
            (None, _) => served.imp.import(&ctx, &req.id).await?,
        };
        // The imported state is often partial (Terraform reads it next); its identity is
        // returned when it can already be worked out, else the one given is kept.
        let identity = match of_state(served, &state) {
            Ok(Some(identity)) => Some(identity),
            _ => req.identity.clone(),
        };
        Ok((state, identity))
    }
}
