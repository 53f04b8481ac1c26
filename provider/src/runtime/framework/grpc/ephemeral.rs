//! Ephemeral resources (Terraform ≥ 1.10): validate, open, renew and close. Their values are
//! never stored by Terraform; the provider keeps nothing between calls but the private bytes
//! Terraform hands back.

use super::{decode, encode, require_known, GrpcProvider, Served};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::{EphemeralResource, Provider};
use crate::runtime::proto::tfplugin6 as pb;
use crate::runtime::schema::rules;

fn timestamp(t: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

impl<P: Provider> GrpcProvider<P> {
    fn ephemeral(&self, type_name: &str) -> Result<&Served<dyn EphemeralResource>, Diagnostics> {
        self.ephemeral_resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown ephemeral resource type",
                format!("This provider has no ephemeral resource type {type_name:?}."),
            )
            .into()
        })
    }

    pub(super) fn validate_ephemeral(
        &self,
        req: pb::validate_ephemeral_resource_config::Request,
    ) -> pb::validate_ephemeral_resource_config::Response {
        let diags = (|| -> Result<Diagnostics, Diagnostics> {
            let served = self.ephemeral(&req.type_name)?;
            let config = decode(req.config.as_ref(), &served.ty, "configuration")?;
            let mut diags = rules::check(&served.schema.block, &config, &AttrPath::root());
            served.imp.validate(&self.ctx(), &config, &mut diags);
            Ok(diags)
        })()
        .unwrap_or_else(|d| d);
        pb::validate_ephemeral_resource_config::Response {
            diagnostics: diags.to_proto(),
        }
    }

    pub(super) async fn open_ephemeral(
        &self,
        req: pb::open_ephemeral_resource::Request,
    ) -> pb::open_ephemeral_resource::Response {
        let mut response = pb::open_ephemeral_resource::Response::default();
        let result: Result<(), Diagnostics> = async {
            let served = self.ephemeral(&req.type_name)?;
            let config = decode(req.config.as_ref(), &served.ty, "configuration")?;
            // Values unknown at validate are known now.
            let broken = rules::check(&served.schema.block, &config, &AttrPath::root());
            if broken.has_errors() {
                return Err(broken);
            }
            tracing::info!(ephemeral_resource = req.type_name, "opening");
            let opened = served.imp.open(&self.ctx(), &config).await;
            let failed = opened.diagnostics.has_errors();
            response.diagnostics = opened.diagnostics.to_proto();
            if failed {
                return Ok(());
            }
            require_known(&opened.result, "ephemeral result")?;
            response.result = Some(encode(&opened.result, &served.ty, "ephemeral result")?);
            response.private = opened.private;
            response.renew_at = opened.renew_at.map(timestamp);
            Ok(())
        }
        .await;
        if let Err(d) = result {
            response.diagnostics.extend(d.to_proto());
        }
        response
    }

    pub(super) async fn renew_ephemeral(
        &self,
        req: pb::renew_ephemeral_resource::Request,
    ) -> pb::renew_ephemeral_resource::Response {
        let served = match self.ephemeral(&req.type_name) {
            Ok(s) => s,
            Err(d) => {
                return pb::renew_ephemeral_resource::Response {
                    diagnostics: d.to_proto(),
                    ..Default::default()
                }
            }
        };
        let renewed = served.imp.renew(&self.ctx(), req.private.as_deref()).await;
        pb::renew_ephemeral_resource::Response {
            diagnostics: renewed.diagnostics.to_proto(),
            renew_at: renewed.renew_at.map(timestamp),
            private: renewed.private.or(req.private),
        }
    }

    pub(super) async fn close_ephemeral(
        &self,
        req: pb::close_ephemeral_resource::Request,
    ) -> pb::close_ephemeral_resource::Response {
        let diags = match self.ephemeral(&req.type_name) {
            Ok(served) => {
                tracing::info!(ephemeral_resource = req.type_name, "closing");
                served.imp.close(&self.ctx(), req.private.as_deref()).await
            }
            Err(d) => d,
        };
        pb::close_ephemeral_resource::Response {
            diagnostics: diags.to_proto(),
        }
    }
}
