//! What every object shares, built once by the provider's `configure`: the cloud settings
//! and the client made from them on first use, the catalog cache (profiles, images, zones,
//! subnets) the instance resource and the list resource share, the timeouts of reads, and
//! [`cloud_call`], the one way an object calls the cloud (credentials checked, bounded by a
//! timeout, ended by Ctrl-C, errors as diagnostics). Objects import this module, never the
//! provider root.

pub mod catalog;
mod settings;

use std::sync::OnceLock;
use std::time::Duration;

use crate::cloud::{self, Client};
use crate::runtime::diag::Diagnostic;
use crate::runtime::framework::Ctx;

pub use catalog::Catalog;
use settings::Setting;
pub use settings::{
    CloudSettings, ProviderConfig, API_KEY_ENV, DEFAULT_MAX_RETRIES, IAM_ENDPOINT_ENV,
    MAX_RETRIES_LIMIT, REGION_ENV, TAGGING_ENDPOINT_ENV, VPC_ENDPOINT_ENV,
};

/// What resources and data sources get with `ctx.data::<ProviderState>()`.
pub struct ProviderState {
    settings: CloudSettings,
    client: OnceLock<Client>,
    catalog: Catalog,
}

impl ProviderState {
    pub fn new(settings: CloudSettings) -> ProviderState {
        ProviderState {
            settings,
            client: OnceLock::new(),
            catalog: Catalog::default(),
        }
    }

    /// The cloud client, built on first use. Fails (with the variable to set) when the
    /// API key or region is missing.
    pub fn client(&self) -> Result<Client, Diagnostic> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let built = self.settings.client_config().and_then(|config| {
            Client::new(config)
                .map_err(|e| Diagnostic::error("Invalid IBM Cloud configuration", e.to_string()))
        })?;
        Ok(self.client.get_or_init(|| built).clone())
    }

    /// The catalog cache: one lookup per profile, image, region and subnet per process.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The provider's `resource_group` (an id), if set.
    pub fn resource_group(&self) -> Option<&str> {
        self.settings.resource_group.as_deref()
    }

    /// The provider's region, if set.
    pub fn region(&self) -> Option<&str> {
        match &self.settings.region {
            Setting::Set(r) => Some(r),
            _ => None,
        }
    }
}

/// How long a data source read, a refresh or an import (with their retries) may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long the plan-time checks against the catalog may take.
pub const PLAN_CHECK_TIMEOUT: Duration = Duration::from_secs(120);

impl ProviderState {
    /// The configured client of a resource or data source call.
    pub fn client_of(ctx: &Ctx) -> Result<Client, Diagnostic> {
        ctx.data::<ProviderState>()?.client()
    }
}

/// Runs one cloud operation for a resource or data source: gets the client (a clear error
/// when credentials are missing), bounds it by `timeout`, ends it when Terraform asks to
/// stop, and turns a failure into a diagnostic titled `summary`.
pub async fn cloud_call<T, F, Fut>(
    ctx: &Ctx,
    summary: &str,
    timeout: Duration,
    op: F,
) -> Result<T, Diagnostic>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, cloud::Error>>,
{
    let client = ProviderState::client_of(ctx)?.with_timeout(timeout);
    let result = tokio::select! {
        r = op(client) => r,
        () = ctx.stopped() => Err(cloud::Error::Cancelled { what: summary.to_string() }),
    };
    result.map_err(|e| cloud_diagnostic(summary, &e))
}

/// A diagnostic for a cloud error (its text carries the API's code, message and trace).
pub fn cloud_diagnostic(summary: &str, e: &cloud::Error) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// The cloud client of a call, its calls and waits bounded by `limit`.
pub fn client(ctx: &Ctx, limit: Duration) -> Result<Client, Diagnostic> {
    Ok(ProviderState::client_of(ctx)?.with_timeout(limit))
}
