//! The tfplugin6 `Provider` gRPC service for any [`Provider`]: decodes values against the
//! schemas, calls the provider's resources and data sources, and encodes the answers.
//! Problems are answered as diagnostics, never as gRPC errors, because Terraform turns a
//! non-OK status into one generic, unhelpful message.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;
use tonic::{Request, Response, Status};

mod ephemeral;
mod identity;
mod list;
#[cfg(test)]
mod tests;

use super::plan::{self, Marking};
use super::{
    Change, Ctx, DataSource, EphemeralResource, ListResource, Plan, Provider, ProviderData,
    Resource,
};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::proto::tfplugin6 as pb;
use crate::runtime::schema::{rules, IdentitySchema, Schema};
use crate::runtime::value::{json, msgpack, Type, Value};

type Rpc<T> = Result<Response<T>, Status>;

/// A resource, data source, ephemeral or list resource with its schema and the schema's
/// implied type, both computed once at start-up rather than on every call.
struct Served<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
    /// A managed resource's identity schema and its implied type.
    identity: Option<(IdentitySchema, Type)>,
}

impl<T: ?Sized> Served<T> {
    fn new(imp: Arc<T>, schema: Schema) -> Self {
        let ty = schema.block.implied_type();
        Served {
            imp,
            schema,
            ty,
            identity: None,
        }
    }
}

impl Served<dyn Resource> {
    fn resource(imp: Arc<dyn Resource>) -> Self {
        let identity = imp.identity_schema().map(|s| {
            let ty = s.implied_type();
            (s, ty)
        });
        Served {
            identity,
            ..Served::new(imp.clone(), imp.schema())
        }
    }
}

/// Serves a [`Provider`] as Terraform's plugin service.
pub struct GrpcProvider<P: Provider> {
    provider: P,
    provider_schema: Schema,
    provider_type: Type,
    resources: HashMap<&'static str, Served<dyn Resource>>,
    data_sources: HashMap<&'static str, Served<dyn DataSource>>,
    ephemeral_resources: HashMap<&'static str, Served<dyn EphemeralResource>>,
    list_resources: HashMap<&'static str, Served<dyn ListResource>>,
    /// Type names registered twice (see [`GrpcProvider::registration_problems`]).
    registration_problems: Vec<String>,
    data: RwLock<Option<ProviderData>>,
    stop: watch::Sender<bool>,
}

/// Serves objects by type name; a second object of a name already taken is refused (kept
/// out, and reported in `problems`), never silently swapped for the first.
fn register<T: ?Sized>(
    objects: Vec<Arc<T>>,
    kind: &str,
    name_of: impl Fn(&T) -> &'static str,
    served: impl Fn(Arc<T>) -> Served<T>,
    problems: &mut Vec<String>,
) -> HashMap<&'static str, Served<T>> {
    let mut out = HashMap::new();
    for object in objects {
        let name = name_of(&object);
        if out.contains_key(name) {
            problems.push(format!("{kind} {name:?} is registered more than once"));
            continue;
        }
        out.insert(name, served(object));
    }
    out
}

impl<P: Provider> GrpcProvider<P> {
    pub fn new(provider: P) -> Self {
        let mut problems = Vec::new();
        let resources = register(
            provider.resources(),
            "resource type",
            |r| r.type_name(),
            Served::resource,
            &mut problems,
        );
        let data_sources = register(
            provider.data_sources(),
            "data source type",
            |d| d.type_name(),
            |d| Served::new(d.clone(), d.schema()),
            &mut problems,
        );
        let ephemeral_resources = register(
            provider.ephemeral_resources(),
            "ephemeral resource type",
            |e| e.type_name(),
            |e| Served::new(e.clone(), e.schema()),
            &mut problems,
        );
        let list_resources = register(
            provider.list_resources(),
            "list resource type",
            |l| l.type_name(),
            |l| Served::new(l.clone(), l.schema()),
            &mut problems,
        );
        let provider_schema = provider.schema();
        GrpcProvider {
            provider_type: provider_schema.block.implied_type(),
            provider_schema,
            provider,
            resources,
            data_sources,
            ephemeral_resources,
            list_resources,
            registration_problems: problems,
            data: RwLock::new(None),
            stop: watch::channel(false).0,
        }
    }

    /// Registration problems (a type name registered twice); Terraform is told of them as
    /// errors when it asks for the schemas, so such a provider is never used.
    pub fn registration_problems(&self) -> &[String] {
        &self.registration_problems
    }

    fn registration_diagnostics(&self) -> Vec<pb::Diagnostic> {
        self.registration_problems
            .iter()
            .map(|p| {
                Diagnostic::error(
                    "Provider registers an object twice",
                    format!("{p}. This is a bug in the provider."),
                )
                .to_proto()
            })
            .collect()
    }

    /// Every schema this provider serves, by type name (for schema checks in tests).
    pub fn schemas(&self) -> Vec<(String, &Schema)> {
        let mut all = vec![("provider".to_string(), &self.provider_schema)];
        all.extend(
            self.resources
                .iter()
                .map(|(n, r)| (n.to_string(), &r.schema)),
        );
        all.extend(
            self.data_sources
                .iter()
                .map(|(n, d)| (n.to_string(), &d.schema)),
        );
        all.extend(
            self.ephemeral_resources
                .iter()
                .map(|(n, e)| (format!("ephemeral {n}"), &e.schema)),
        );
        all.extend(
            self.list_resources
                .iter()
                .map(|(n, l)| (format!("list {n}"), &l.schema)),
        );
        all
    }

    fn ctx(&self) -> Ctx {
        let data = self.data.read().map(|d| d.clone()).unwrap_or(None);
        Ctx::new(data, self.stop.subscribe())
    }

    fn resource(&self, type_name: &str) -> Result<&Served<dyn Resource>, Diagnostics> {
        self.resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
            .into()
        })
    }

    fn data_source(&self, type_name: &str) -> Result<&Served<dyn DataSource>, Diagnostics> {
        self.data_sources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source type",
                format!("This provider has no data source type {type_name:?}."),
            )
            .into()
        })
    }
}

fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let result = match dv {
        Some(dv) if !dv.msgpack.is_empty() => {
            msgpack::decode(&dv.msgpack, ty).map_err(|e| e.to_string())
        }
        Some(dv) if !dv.json.is_empty() => json::decode(&dv.json, ty).map_err(|e| e.to_string()),
        _ => Ok(Value::Null),
    };
    result.map_err(|e| {
        Diagnostic::error(
            "Invalid value from Terraform",
            format!("The {what} could not be decoded against the schema: {e}"),
        )
        .into()
    })
}

fn encode(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    msgpack::encode(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider produced an invalid value",
                format!("The {what} does not conform to the schema: {e}. This is a bug in the provider."),
            )
            .into()
        })
}

fn require_known(value: &Value, what: &str) -> Result<(), Diagnostics> {
    if value.is_wholly_known() {
        Ok(())
    } else {
        Err(Diagnostic::error(
            "Provider produced an incomplete value",
            format!("The {what} still has unknown values. This is a bug in the provider."),
        )
        .into())
    }
}

/// Runs a fallible RPC body, turning its diagnostics error into the response.
macro_rules! attempt {
    ($diags:ident, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                $diags.extend(d);
                None
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for GrpcProvider<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: self.registration_diagnostics(),
            data_sources: self
                .data_sources
                .keys()
                .map(|n| pb::get_metadata::DataSourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            functions: vec![],
            ephemeral_resources: self
                .ephemeral_resources
                .keys()
                .map(|n| pb::get_metadata::EphemeralMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            list_resources: self
                .list_resources
                .keys()
                .map(|n| pb::get_metadata::ListResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        tracing::debug!("serving provider schema");
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self
                .resources
                .iter()
                .map(|(n, r)| (n.to_string(), r.schema.to_proto()))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(n, r)| (n.to_string(), r.schema.to_proto()))
                .collect(),
            ephemeral_resource_schemas: self
                .ephemeral_resources
                .iter()
                .map(|(n, e)| (n.to_string(), e.schema.to_proto()))
                .collect(),
            list_resource_schemas: self
                .list_resources
                .iter()
                .map(|(n, l)| (n.to_string(), l.schema.to_proto()))
                .collect(),
            server_capabilities: Some(capabilities()),
            diagnostics: self.registration_diagnostics(),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(self.identity_schemas()))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        Ok(Response::new(self.upgrade_identity(req.into_inner())))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(self.validate_ephemeral(req.into_inner())))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(self.open_ephemeral(req.into_inner()).await))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(self.renew_ephemeral(req.into_inner()).await))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(self.close_ephemeral(req.into_inner()).await))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        Ok(Response::new(self.validate_list(req.into_inner())))
    }

    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> Rpc<tonic::codegen::BoxStream<pb::list_resource::Event>> {
        let events = self.list(req.into_inner()).await;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            events.into_iter().map(Ok),
        ))))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let ty = &self.provider_type;
        if let Some(config) = attempt!(
            diags,
            decode(req.config.as_ref(), ty, "provider configuration").map(Some)
        ) {
            diags.extend(rules::check(
                &self.provider_schema.block,
                &config,
                &AttrPath::root(),
            ));
            self.provider.validate(&config, &mut diags);
        }
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let write_only_allowed = req
            .client_capabilities
            .as_ref()
            .is_some_and(|c| c.write_only_attributes_allowed);
        let diags = (|| -> Result<Diagnostics, Diagnostics> {
            let Served {
                imp: resource,
                schema,
                ty,
                ..
            } = self.resource(&req.type_name)?;
            let config = decode(req.config.as_ref(), ty, "configuration")?;
            let mut diags = Diagnostics::new();
            if !write_only_allowed {
                for path in plan::write_only_values(&schema.block, &config) {
                    diags.error_at(
                        path.clone(),
                        "Write-only attribute not supported by this Terraform",
                        format!(
                            "{path} is write-only: its value is never stored. This version of \
                             Terraform does not support write-only attributes (Terraform 1.11 or \
                             later does), so it would keep the value in state. Leave it unset."
                        ),
                    );
                }
            }
            diags.extend(rules::check(&schema.block, &config, &AttrPath::root()));
            resource.validate(&self.ctx(), &config, &mut diags);
            Ok(diags)
        })()
        .unwrap_or_else(|d| d);
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let diags = (|| -> Result<Diagnostics, Diagnostics> {
            let Served {
                imp: ds,
                schema,
                ty,
                ..
            } = self.data_source(&req.type_name)?;
            let config = decode(req.config.as_ref(), ty, "configuration")?;
            let mut diags = rules::check(&schema.block, &config, &AttrPath::root());
            ds.validate(&self.ctx(), &config, &mut diags);
            Ok(diags)
        })()
        .unwrap_or_else(|d| d);
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let body = || -> Result<Option<pb::DynamicValue>, Diagnostics> {
            let Served {
                imp: resource,
                schema,
                ty,
                ..
            } = self.resource(&req.type_name)?;
            let raw = req
                .raw_state
                .as_ref()
                .map(|r| r.json.as_slice())
                .unwrap_or_default();
            if raw.is_empty() {
                return Err(Diagnostic::error(
                    "Unsupported state format",
                    "The stored state is in the pre-0.12 flatmap format, which this provider \
                     does not read. Re-create the resource.",
                )
                .into());
            }
            let value = match req.version.cmp(&schema.version) {
                std::cmp::Ordering::Equal => json::decode(raw, ty).map_err(|e| {
                    Diagnostics::from(Diagnostic::error(
                        "Invalid stored state",
                        format!(
                            "The stored state of {} could not be read: {e}",
                            req.type_name
                        ),
                    ))
                })?,
                std::cmp::Ordering::Less => resource.upgrade_state(req.version, raw)?,
                std::cmp::Ordering::Greater => {
                    return Err(Diagnostic::error(
                        "State from a newer provider",
                        format!(
                            "The state of {} was written at schema version {}, newer than this \
                             provider's {}. Use a newer provider version.",
                            req.type_name, req.version, schema.version
                        ),
                    )
                    .into())
                }
            };
            encode(&value, ty, "upgraded state").map(Some)
        };
        let upgraded_state = attempt!(diags, body());
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let ty = &self.provider_type;
        if let Some(config) = attempt!(
            diags,
            decode(req.config.as_ref(), ty, "provider configuration").map(Some)
        ) {
            tracing::debug!(terraform_version = %req.terraform_version, "configuring provider");
            let (data, d) = self
                .provider
                .configure(super::ConfigureRequest {
                    config: &config,
                    terraform_version: &req.terraform_version,
                })
                .await;
            diags.extend(d);
            if let Ok(mut slot) = self.data.write() {
                *slot = data;
            }
        }
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut private = req.private.clone();
        let mut new_identity = req.current_identity.clone();
        let result: Result<Option<pb::DynamicValue>, Diagnostics> = async {
            let served = self.resource(&req.type_name)?;
            let Served {
                imp: resource, ty, ..
            } = served;
            let state = decode(req.current_state.as_ref(), ty, "current state")?;
            let outcome = resource.read(&self.ctx(), state, req.private.clone()).await;
            diags.extend(outcome.diagnostics);
            if let Some(p) = outcome.private {
                private = p;
            }
            if !outcome.state.is_null() {
                require_known(&outcome.state, "refreshed state")?;
                if let Some(identity) = identity::of_state(served, &outcome.state)? {
                    new_identity = Some(identity);
                }
            }
            encode(&outcome.state, ty, "refreshed state").map(Some)
        }
        .await;
        let new_state = attempt!(diags, result);
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: diags.to_proto(),
            private,
            new_identity,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut requires_replace = Vec::new();
        let mut planned_private = req.prior_private.clone();
        let mut planned_identity = None;
        let result: Result<Option<pb::DynamicValue>, Diagnostics> = async {
            let served = self.resource(&req.type_name)?;
            let Served {
                imp: resource,
                schema,
                ty,
                ..
            } = served;
            let prior = decode(req.prior_state.as_ref(), ty, "prior state")?;
            let mut proposed = decode(req.proposed_new_state.as_ref(), ty, "proposed new state")?;
            plan::null_write_only(&schema.block, &mut proposed);
            let config = decode(req.config.as_ref(), ty, "configuration")?;
            if proposed.is_null() {
                // Destroy: nothing to plan.
                return encode(&Value::Null, ty, "planned state").map(Some);
            }
            // An object keeps its identity through updates; a new one gets it at apply.
            if !prior.is_null() {
                planned_identity = match &req.prior_identity {
                    Some(known) => Some(known.clone()),
                    None => identity::of_state(served, &prior)?,
                };
            }
            let ctx = self.ctx();
            let mut planned = proposed.clone();
            let mut replace = Vec::new();
            if prior.is_null() {
                plan::mark_computed(&schema.block, &config, &prior, &mut planned, Marking::Fresh);
            } else if proposed != prior {
                plan::mark_computed(
                    &schema.block,
                    &config,
                    &prior,
                    &mut planned,
                    Marking::Update,
                );
                replace = plan::replace_paths(&schema.block, &prior, &planned, &req.prior_private);
                if !replace.is_empty() {
                    planned = proposed.clone();
                    plan::mark_computed(
                        &schema.block,
                        &config,
                        &prior,
                        &mut planned,
                        Marking::Fresh,
                    );
                }
            }
            let mut plan = Plan {
                schema,
                prior: &prior,
                config: &config,
                planned,
                requires_replace: replace,
                private: req.prior_private.clone(),
                diagnostics: Diagnostics::new(),
            };
            resource.modify_plan(&ctx, &mut plan).await;
            diags.extend(std::mem::take(&mut plan.diagnostics));
            if !prior.is_null() {
                requires_replace = plan
                    .requires_replace
                    .iter()
                    .map(AttrPath::to_proto)
                    .collect();
            }
            planned_private = plan.private;
            encode(&plan.planned, ty, "planned state").map(Some)
        }
        .await;
        let planned_state = attempt!(diags, result);
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state,
            requires_replace,
            planned_private,
            planned_identity,
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let mut private = req.planned_private.clone();
        let mut new_identity = None;
        let result: Result<Option<pb::DynamicValue>, Diagnostics> = async {
            let served = self.resource(&req.type_name)?;
            let Served {
                imp: resource,
                schema,
                ty,
                ..
            } = served;
            let prior = decode(req.prior_state.as_ref(), ty, "prior state")?;
            let planned = decode(req.planned_state.as_ref(), ty, "planned state")?;
            let config = decode(req.config.as_ref(), ty, "configuration")?;
            let ctx = self.ctx();
            if planned.is_null() {
                tracing::info!(resource = req.type_name, "deleting");
                let d = resource.delete(&ctx, &prior, &req.planned_private).await;
                let failed = d.has_errors();
                diags.extend(d);
                // A failed delete keeps the prior state, so the object is not forgotten.
                let state = if failed { prior } else { Value::Null };
                return encode(&state, ty, "state").map(Some);
            }
            // Values unknown at validate are known now: check what was skipped then.
            let broken = rules::check(&schema.block, &config, &AttrPath::root());
            if broken.has_errors() {
                diags.extend(broken);
                return encode(&prior, ty, "state").map(Some);
            }
            let change = Change {
                prior: &prior,
                planned: &planned,
                config: &config,
                private: &req.planned_private,
            };
            let outcome = if prior.is_null() {
                tracing::info!(resource = req.type_name, "creating");
                resource.create(&ctx, change).await
            } else {
                tracing::info!(resource = req.type_name, "updating");
                resource.update(&ctx, change).await
            };
            diags.extend(outcome.diagnostics);
            if let Some(p) = outcome.private {
                private = p;
            }
            let mut state = outcome.state;
            // Write-only values must never reach state, whatever the resource returned.
            plan::null_write_only(&schema.block, &mut state);
            if !state.is_null() {
                require_known(&state, "new state")?;
                new_identity = identity::of_state(served, &state)?;
            }
            encode(&state, ty, "new state").map(Some)
        }
        .await;
        let new_state = attempt!(diags, result);
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state,
            private,
            new_identity,
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let result: Result<Option<pb::import_resource_state::ImportedResource>, Diagnostics> =
            async {
                let served = self.resource(&req.type_name)?;
                let (state, identity) = self.import(served, &req).await?;
                let state = encode(&state, &served.ty, "imported state")?;
                Ok(Some(pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: Some(state),
                    identity,
                    ..Default::default()
                }))
            }
            .await;
        let imported = attempt!(diags, result);
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported.into_iter().collect(),
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::new();
        let result: Result<Option<pb::DynamicValue>, Diagnostics> = async {
            let Served {
                imp: ds,
                schema,
                ty,
                ..
            } = self.data_source(&req.type_name)?;
            let config = decode(req.config.as_ref(), ty, "configuration")?;
            let broken = rules::check(&schema.block, &config, &AttrPath::root());
            if broken.has_errors() {
                diags.extend(broken);
                return Ok(None);
            }
            let outcome = ds.read(&self.ctx(), &config).await;
            let failed = outcome.diagnostics.has_errors();
            diags.extend(outcome.diagnostics);
            if failed {
                return Ok(None);
            }
            if outcome.state.is_null() {
                return Err(Diagnostic::error(
                    "Provider produced null object",
                    "The data source returned no value. This is a bug in the provider.",
                )
                .into());
            }
            require_known(&outcome.state, "data source result")?;
            encode(&outcome.state, ty, "data source result").map(Some)
        }
        .await;
        let state = attempt!(diags, result);
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        tracing::info!("stop requested: cancelling in-flight operations");
        self.stop.send_replace(true);
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}
