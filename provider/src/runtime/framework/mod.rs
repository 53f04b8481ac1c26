//! The small framework a provider is written against: a [`Provider`] lists its
//! [`Resource`]s and [`DataSource`]s, each one file with a schema and a few async methods, and
//! optionally [`EphemeralResource`]s (Terraform ≥ 1.10) and [`ListResource`]s (`terraform
//! query`, Terraform ≥ 1.14); a resource may declare an identity (Terraform ≥ 1.12).
//! [`GrpcProvider`] turns any such provider into the tfplugin6 gRPC service, doing the
//! protocol work generically: value decoding/encoding against the schema, unknown computed
//! attributes on plan, `requires_replace`, private state, state upgrades, write-only checks,
//! declared rules (run here, once, for every object: see [`crate::runtime::schema::rules`]),
//! and diagnostics with attribute paths. Objects read values into typed models ([`model`]).

mod grpc;
pub mod model;
pub mod plan;

use std::any::Any;
use std::sync::Arc;

use tokio::sync::watch;

pub use grpc::GrpcProvider;

use super::diag::{Diagnostic, Diagnostics};
use super::schema::{IdentitySchema, Schema};
use super::value::Value;

/// Whatever a provider builds in `configure` (API clients, settings), handed to every
/// resource and data source call.
pub type ProviderData = Arc<dyn Any + Send + Sync>;

/// What every resource and data source call gets besides its values.
#[derive(Clone)]
pub struct Ctx {
    data: Option<ProviderData>,
    stop: watch::Receiver<bool>,
}

impl Ctx {
    pub(crate) fn new(data: Option<ProviderData>, stop: watch::Receiver<bool>) -> Ctx {
        Ctx { data, stop }
    }

    /// A context for unit tests of resources, with optional provider data and no stop signal.
    pub fn for_tests(data: Option<ProviderData>) -> Ctx {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive for the life of the process so `stopped()` never resolves.
        std::mem::forget(tx);
        Ctx { data, stop: rx }
    }

    /// The provider's configured data, as the type the provider put there.
    pub fn data<T: Any + Send + Sync>(&self) -> Result<&T, Diagnostic> {
        self.data
            .as_ref()
            .and_then(|d| d.downcast_ref::<T>())
            .ok_or_else(|| {
                Diagnostic::error(
                    "Provider not configured",
                    "This operation needs the provider configuration, which Terraform has not \
                     passed yet. This is a bug in the provider or an unusual Terraform run.",
                )
            })
    }

    /// True once Terraform asked the provider to stop (the user pressed Ctrl-C).
    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when Terraform asks the provider to stop; long waits select on it.
    pub async fn stopped(&self) {
        let mut rx = self.stop.clone();
        // An error means the sender is gone, which only happens at shutdown: stop too.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// What `configure` receives.
pub struct ConfigureRequest<'a> {
    pub config: &'a Value,
    pub terraform_version: &'a str,
}

/// A provider: its configuration schema and what it manages.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    fn schema(&self) -> Schema;

    /// Checks the provider configuration (which may contain unknowns).
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let _ = (config, diags);
    }

    /// Builds the data resources and data sources will use. Runs once per process, before
    /// any call that needs it.
    async fn configure(&self, req: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics);

    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;

    /// Ephemeral resources (Terraform ≥ 1.10; older Terraform rejects `ephemeral` blocks itself).
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        Vec::new()
    }

    /// List resources for `terraform query` (Terraform ≥ 1.14). Each lists the managed
    /// resource type of the same name, which must declare an identity.
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        Vec::new()
    }
}

/// The outcome of a create, update or read: the new state (null = the object is gone),
/// private bytes Terraform stores beside it, and diagnostics. On an error, a non-null state
/// is saved (and the resource tainted), so a half-created object is never lost.
#[derive(Debug)]
pub struct Outcome {
    pub state: Value,
    /// New private bytes; `None` keeps the ones Terraform passed in.
    pub private: Option<Vec<u8>>,
    pub diagnostics: Diagnostics,
}

impl Outcome {
    pub fn ok(state: Value) -> Outcome {
        Outcome {
            state,
            private: None,
            diagnostics: Diagnostics::new(),
        }
    }
    pub fn failed(state: Value, diagnostics: impl Into<Diagnostics>) -> Outcome {
        Outcome {
            state,
            private: None,
            diagnostics: diagnostics.into(),
        }
    }
    pub fn with_private(mut self, private: Vec<u8>) -> Self {
        self.private = Some(private);
        self
    }
}

/// A create or update: the prior state (null on create), the planned state, the config and
/// the private bytes from the plan.
pub struct Change<'a> {
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub config: &'a Value,
    pub private: &'a [u8],
}

/// A plan being made; `modify_plan` may change `planned`, add `requires_replace` paths,
/// set private bytes and add diagnostics. The generic work (unknown computed values,
/// `requires_replace` attributes, `use_state_for_unknown`) is already done.
pub struct Plan<'a> {
    pub schema: &'a Schema,
    /// Null when the resource is being created.
    pub prior: &'a Value,
    pub config: &'a Value,
    pub planned: Value,
    pub requires_replace: Vec<super::diag::AttrPath>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl Plan<'_> {
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }
    pub fn is_replace(&self) -> bool {
        !self.requires_replace.is_empty()
    }
}

/// A managed resource type.
#[async_trait::async_trait]
pub trait Resource: Send + Sync {
    /// The full type name, e.g. `hyperprotect_contract`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// The fields of the object's model (see [`model`]): a test checks them against the
    /// schema, attribute by attribute. `None` only for objects not yet written on models.
    fn model(&self) -> Option<Vec<model::Field>> {
        None
    }

    /// Checks the configuration (which may contain unknowns). Runs at validate and plan,
    /// after the schema's declared rules; only what cannot be declared belongs here.
    fn validate(&self, ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        let _ = (ctx, config, diags);
    }

    /// Adjusts a plan for create or update (not destroy).
    async fn modify_plan(&self, ctx: &Ctx, plan: &mut Plan<'_>) {
        let _ = (ctx, plan);
    }

    async fn create(&self, ctx: &Ctx, change: Change<'_>) -> Outcome;
    /// Refreshes the state from the real object; a null state means it is gone.
    async fn read(&self, ctx: &Ctx, state: Value, private: Vec<u8>) -> Outcome;
    async fn update(&self, ctx: &Ctx, change: Change<'_>) -> Outcome;
    async fn delete(&self, ctx: &Ctx, prior: &Value, private: &[u8]) -> Diagnostics;

    /// Builds the state to import from a user-given id (Terraform then calls `read`).
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let _ = (ctx, id);
        Err(Diagnostic::error(
            "Import not supported",
            format!("{} cannot be imported.", self.type_name()),
        )
        .into())
    }

    /// Converts state stored at an older schema version (as JSON) to the current schema.
    fn upgrade_state(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        let _ = raw_json;
        Err(Diagnostic::error(
            "Unsupported state version",
            format!(
                "{} cannot upgrade state recorded at schema version {version}.",
                self.type_name()
            ),
        )
        .into())
    }

    /// The resource's identity schema (Terraform ≥ 1.12), if it has one. A resource with an
    /// identity also implements [`Resource::identity`].
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of the object a (wholly known, non-null) state describes, as an object of
    /// the identity schema's attributes. The framework returns it to Terraform after every
    /// create, update, read and import, and keeps it through plans.
    fn identity(&self, state: &Value) -> Option<Value> {
        let _ = state;
        None
    }

    /// Builds the state to import from an identity given in an `import` block (Terraform then
    /// calls `read`). The identity has the identity schema's type; attributes not required for
    /// import may be null.
    async fn import_by_identity(&self, ctx: &Ctx, identity: &Value) -> Result<Value, Diagnostics> {
        let _ = (ctx, identity);
        Err(Diagnostic::error(
            "Import by identity not supported",
            format!(
                "{} cannot be imported by identity; import it by id instead.",
                self.type_name()
            ),
        )
        .into())
    }

    /// Converts an identity stored at an older identity version (as JSON) to the current one.
    fn upgrade_identity(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        let _ = raw_json;
        Err(Diagnostic::error(
            "Unsupported identity version",
            format!(
                "{} cannot upgrade an identity recorded at version {version}.",
                self.type_name()
            ),
        )
        .into())
    }
}

/// What [`EphemeralResource::open`] returns: the result object (the schema's type, wholly
/// known), private bytes Terraform hands back to `renew` and `close`, and when to renew.
#[derive(Debug)]
pub struct Opened {
    pub result: Value,
    pub private: Option<Vec<u8>>,
    /// Terraform calls `renew` at this time if it still needs the value.
    pub renew_at: Option<std::time::SystemTime>,
    pub diagnostics: Diagnostics,
}

impl Opened {
    pub fn ok(result: Value) -> Opened {
        Opened {
            result,
            private: None,
            renew_at: None,
            diagnostics: Diagnostics::new(),
        }
    }
    pub fn failed(diagnostics: impl Into<Diagnostics>) -> Opened {
        Opened {
            diagnostics: diagnostics.into(),
            ..Opened::ok(Value::Null)
        }
    }
}

/// What [`EphemeralResource::renew`] returns.
#[derive(Debug, Default)]
pub struct Renewed {
    /// New private bytes; `None` keeps the ones Terraform has.
    pub private: Option<Vec<u8>>,
    pub renew_at: Option<std::time::SystemTime>,
    pub diagnostics: Diagnostics,
}

/// An ephemeral resource type (Terraform ≥ 1.10): opened when a run needs its value, never
/// stored in state or plan files, closed at the end of the run. For secrets that must not be
/// persisted, e.g. a decrypted record or a private key.
#[async_trait::async_trait]
pub trait EphemeralResource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// The fields of the object's model (see [`model`]): a test checks them against the
    /// schema, attribute by attribute. `None` only for objects not yet written on models.
    fn model(&self) -> Option<Vec<model::Field>> {
        None
    }
    /// Checks the configuration (which may contain unknowns).
    fn validate(&self, ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        let _ = (ctx, config, diags);
    }
    /// Produces the value from a wholly known configuration.
    async fn open(&self, ctx: &Ctx, config: &Value) -> Opened;
    /// Extends whatever `open` acquired (e.g. a lease); by default there is nothing to renew.
    async fn renew(&self, ctx: &Ctx, private: Option<&[u8]>) -> Renewed {
        let _ = (ctx, private);
        Renewed::default()
    }
    /// Releases whatever `open` acquired; by default there is nothing to release.
    async fn close(&self, ctx: &Ctx, private: Option<&[u8]>) -> Diagnostics {
        let _ = (ctx, private);
        Diagnostics::new()
    }
}

/// What a [`ListResource`] is asked for.
pub struct ListRequest<'a> {
    /// The query's `config` block, against the list resource's schema (wholly known).
    pub config: &'a Value,
    /// Terraform wants each object's full state (e.g. for `-generate-config-out`).
    pub include_resource_object: bool,
    /// At most this many results are used; more are ignored.
    pub limit: i64,
}

/// One object a [`ListResource`] found.
#[derive(Debug)]
pub struct Listed {
    /// Shown to the user by `terraform query`.
    pub display_name: String,
    /// The object's identity, against the managed resource's identity schema.
    pub identity: Value,
    /// The object's full state (against the managed resource's schema), when asked for.
    pub state: Option<Value>,
}

/// A list resource (Terraform ≥ 1.14, `terraform query` with `list` blocks in `.tfquery.hcl`
/// files): finds existing objects of the managed resource type of the same name, so that
/// Terraform can import them (and `-generate-config-out` write their configuration).
#[async_trait::async_trait]
pub trait ListResource: Send + Sync {
    /// The managed resource type it lists, e.g. `hyperprotect_instance`.
    fn type_name(&self) -> &'static str;
    /// The schema of the `config` block of a `list` block (the filters).
    fn schema(&self) -> Schema;
    /// The fields of the object's model (see [`model`]): a test checks them against the
    /// schema, attribute by attribute. `None` only for objects not yet written on models.
    fn model(&self) -> Option<Vec<model::Field>> {
        None
    }
    fn validate(&self, ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        let _ = (ctx, config, diags);
    }
    async fn list(&self, ctx: &Ctx, req: ListRequest<'_>) -> Result<Vec<Listed>, Diagnostics>;
}

/// A data source type.
#[async_trait::async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// The fields of the object's model (see [`model`]): a test checks them against the
    /// schema, attribute by attribute. `None` only for objects not yet written on models.
    fn model(&self) -> Option<Vec<model::Field>> {
        None
    }
    fn validate(&self, ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        let _ = (ctx, config, diags);
    }
    /// Reads the data; the returned state must be wholly known.
    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome;
}
