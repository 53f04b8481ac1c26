//! `rtest`: a provider built from the same runtime as terraform-provider-hyperprotect, used only
//! to prove the runtime against the real Terraform CLI. It is not part of the release binary.
//!
//! Its one resource, `rtest_everything`, has an attribute of every cty type, nested attributes
//! and blocks of every nesting mode, computed values (some kept with `use_state_for_unknown`,
//! some recomputed on every change), a requires-replace attribute, a sensitive and a
//! write-only attribute, a schema version with a state upgrade, and import. Its "remote
//! objects" are JSON files in the provider's `store_dir`, so tests can create drift by editing
//! or deleting them. `rtest_echo` is a data source that returns its dynamic input.
//! [`newer`] has what proves the newer protocol features: `rtest_item` (resource identity, a
//! list resource for `terraform query`) and the ephemeral resource `rtest_secret`.

pub mod newer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hyperprotect::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use hyperprotect::runtime::framework::plan::get;
use hyperprotect::runtime::framework::{
    Change, ConfigureRequest, Ctx, DataSource, EphemeralResource, ListResource, Outcome, Provider,
    ProviderData, Resource,
};
use hyperprotect::runtime::schema::{
    Attribute, Block, BlockNesting, Mode, NestedBlock, ObjectNesting, Schema,
};
use hyperprotect::runtime::value::{json, Number, Type, Value};

pub struct RtestProvider;

/// The rtest provider binary of this build, as the acceptance harness launches it.
pub fn provider_under_test() -> crate::harness::ProviderUnderTest {
    crate::harness::ProviderUnderTest::new(
        "hyperprotect/rtest",
        crate::harness::built_binary("terraform-provider-rtest"),
    )
}

/// Configuration that loads rtest with its objects under `store_dir`.
pub fn provider_config(store_dir: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    rtest = {{ source = "hyperprotect/rtest" }}
  }}
}}
provider "rtest" {{
  store_dir = "{store_dir}"
}}
"#
    )
}

struct Store {
    dir: PathBuf,
}

/// Ids and names the rtest objects accept: letters, digits and '-' (they become file names).
fn is_simple_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One kind of rtest object: JSON files named by id in a folder of the store, encoded against
/// the resource's implied type.
struct Objects<'a> {
    dir: PathBuf,
    ty: &'a Type,
}

impl Objects<'_> {
    fn path(&self, id: &str) -> Result<PathBuf, Diagnostic> {
        if !is_simple_name(id) {
            return Err(Diagnostic::error(
                "Invalid id",
                format!("{id:?} is not an rtest object id (letters, digits and '-')."),
            ));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    fn save(&self, id: &str, state: &Value) -> Result<(), Diagnostic> {
        let bytes = json::encode(state, self.ty)
            .map_err(|e| Diagnostic::error("Cannot encode object", e.to_string()))?;
        let path = self.path(id)?;
        let tmp = path.with_extension("tmp");
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Diagnostic::error("Cannot write object", e.to_string()))
    }

    fn load(&self, id: &str) -> Result<Option<Value>, Diagnostic> {
        let path = self.path(id)?;
        match std::fs::read(&path) {
            Ok(bytes) => json::decode(&bytes, self.ty).map(Some).map_err(|e| {
                Diagnostic::error("Corrupt object", format!("{}: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Diagnostic::error("Cannot read object", e.to_string())),
        }
    }

    /// Loads an object to import, or says there is none.
    fn load_for_import(&self, id: &str) -> Result<Value, Diagnostics> {
        self.load(id)?.ok_or_else(|| {
            Diagnostic::error("Cannot import", format!("No rtest object {id:?}.")).into()
        })
    }

    /// Deletes the object of the state's id; one already gone is fine.
    fn delete(&self, prior: &Value) -> Diagnostics {
        let id = get(prior, "id").as_str().unwrap_or_default();
        match self.path(id).map(std::fs::remove_file) {
            Ok(Ok(())) => Diagnostics::new(),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Diagnostics::new(),
            Ok(Err(e)) => Diagnostic::error("Cannot delete object", e.to_string()).into(),
            Err(d) => d.into(),
        }
    }
}

#[async_trait::async_trait]
impl Provider for RtestProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![Attribute::required("store_dir", Type::String)
                .describe("Folder holding the test objects (one JSON file each).")]),
        )
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if get(config, "store_dir").as_str() == Some("") {
            diags.error_at(
                AttrPath::attr("store_dir"),
                "Invalid store_dir",
                "store_dir must not be empty.",
            );
        }
    }

    async fn configure(&self, req: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics) {
        let Some(dir) = get(req.config, "store_dir").as_str() else {
            return (None, Diagnostic::error("store_dir is not known", "").into());
        };
        let dir = PathBuf::from(dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return (
                None,
                Diagnostic::error("Cannot create store_dir", e.to_string())
                    .at(AttrPath::attr("store_dir"))
                    .into(),
            );
        }
        (Some(Arc::new(Store { dir })), Diagnostics::new())
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Everything), Arc::new(newer::Item)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(Echo)]
    }

    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        vec![Arc::new(newer::Secret)]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(newer::ItemList)]
    }
}

/// The resource with every type and nesting mode.
pub struct Everything;

fn inner_attributes() -> Vec<Attribute> {
    vec![
        Attribute::required("x", Type::String),
        Attribute::computed("y", Type::String),
    ]
}

impl Everything {
    /// The schema's implied type, built once (every save and load needs it).
    fn type_of() -> &'static Type {
        static TYPE: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
        TYPE.get_or_init(|| Everything.schema().block.implied_type())
    }

    /// Its objects are JSON files directly in the store folder.
    fn objects(store: &Store) -> Objects<'static> {
        Objects {
            dir: store.dir.clone(),
            ty: Self::type_of(),
        }
    }

    fn save(store: &Store, id: &str, state: &Value) -> Result<(), Diagnostic> {
        Self::objects(store).save(id, state)
    }

    fn load(store: &Store, id: &str) -> Result<Option<Value>, Diagnostic> {
        Self::objects(store).load(id)
    }

    /// Fills the computed values the plan left unknown.
    fn fill(planned: &Value, id: &str, created_at: &str, revision: i64) -> Value {
        let mut v = planned.clone();
        let Value::Object(fields) = &mut v else {
            return v;
        };
        fields.insert("id".into(), Value::string(id));
        fields.insert("created_at".into(), Value::string(created_at));
        fields.insert("revision".into(), Value::Number(Number::Int(revision)));
        if let Some(region @ Value::Unknown) = fields.get_mut("region") {
            *region = Value::string("eu-de");
        }
        if let Some(Value::Object(inner)) = fields.get_mut("nested_single") {
            let x = inner
                .get("x")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            inner.insert("y".into(), Value::string(format!("computed-{x}")));
        }
        for name in ["nested_list", "nested_set"] {
            if let Some(Value::List(items) | Value::Set(items)) = fields.get_mut(name) {
                for item in items.iter_mut() {
                    fill_inner(item);
                }
            }
        }
        if let Some(Value::Map(items)) = fields.get_mut("nested_map") {
            for item in items.values_mut() {
                fill_inner(item);
            }
        }
        if let Some(Value::List(items)) = fields.get_mut("block_list") {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(b) = item {
                    if matches!(b.get("ip"), Some(Value::Unknown)) {
                        b.insert("ip".into(), Value::string(format!("10.0.0.{}", i + 1)));
                    }
                }
            }
        }
        v
    }
}

fn fill_inner(item: &mut Value) {
    if let Value::Object(inner) = item {
        let x = inner
            .get("x")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        inner.insert("y".into(), Value::string(format!("computed-{x}")));
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL random bytes");
    format!("rt-{}", hex::encode(bytes))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Resource for Everything {
    fn type_name(&self) -> &'static str {
        "rtest_everything"
    }

    fn schema(&self) -> Schema {
        let object = Type::object([("a", Type::String), ("b", Type::Number)]);
        Schema::new(
            1,
            Block::new(vec![
                Attribute::computed("id", Type::String).use_state_for_unknown(),
                Attribute::required("name", Type::String).requires_replace(),
                Attribute::optional("quantity", Type::Number),
                Attribute::optional("note", Type::String)
                    .describe("A value starting with `warn:` produces a warning (tests warnings)."),
                Attribute::optional("create_delay_ms", Type::Number).describe(
                    "Makes create wait this long (interrupted by Terraform's StopProvider).",
                ),
                Attribute::optional("ratio", Type::Number),
                Attribute::optional("big", Type::Number),
                Attribute::optional("enabled", Type::Bool),
                Attribute::optional("tags", Type::map(Type::String)),
                Attribute::optional("strings", Type::list(Type::String)),
                Attribute::optional("numbers", Type::set(Type::Number)),
                Attribute::optional("pair", Type::Tuple(vec![Type::String, Type::Number])),
                Attribute::optional("object", object),
                Attribute::optional("anything", Type::Dynamic),
                Attribute::optional("secret", Type::String).sensitive(),
                Attribute::optional("password_wo", Type::String).write_only(),
                Attribute::optional_computed("region", Type::String),
                Attribute::computed("created_at", Type::String).use_state_for_unknown(),
                Attribute::computed("revision", Type::Number),
                Attribute::nested(
                    "nested_single",
                    ObjectNesting::Single,
                    inner_attributes(),
                    Mode::Optional,
                ),
                Attribute::nested(
                    "nested_list",
                    ObjectNesting::List,
                    inner_attributes(),
                    Mode::Optional,
                ),
                Attribute::nested(
                    "nested_set",
                    ObjectNesting::Set,
                    inner_attributes(),
                    Mode::Optional,
                ),
                Attribute::nested(
                    "nested_map",
                    ObjectNesting::Map,
                    inner_attributes(),
                    Mode::Optional,
                ),
            ])
            .with_blocks(vec![
                NestedBlock::new(
                    "block_single",
                    BlockNesting::Single,
                    Block::new(vec![Attribute::required("value", Type::String)]),
                ),
                NestedBlock::new(
                    "block_group",
                    BlockNesting::Group,
                    Block::new(vec![Attribute::optional("value", Type::String)]),
                ),
                NestedBlock::new(
                    "block_list",
                    BlockNesting::List,
                    Block::new(vec![
                        Attribute::required("subnet", Type::String),
                        Attribute::computed("ip", Type::String).use_state_for_unknown(),
                    ]),
                )
                .items(0, 3),
                NestedBlock::new(
                    "block_set",
                    BlockNesting::Set,
                    Block::new(vec![Attribute::required("port", Type::Number)]),
                ),
                NestedBlock::new(
                    "block_map",
                    BlockNesting::Map,
                    Block::new(vec![Attribute::required("value", Type::String)]),
                ),
            ]),
        )
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = get(config, "quantity").as_number() {
            if n.as_i64().is_none_or(|n| n < 0) {
                diags.error_at(
                    AttrPath::attr("quantity"),
                    "Invalid quantity",
                    "quantity must be a whole number of at least 0.",
                );
            }
        }
        if let Some(note) = get(config, "note").as_str() {
            if let Some(text) = note.strip_prefix("warn:") {
                diags.warning_at(
                    AttrPath::attr("note"),
                    "Note is a warning",
                    text.trim().to_string(),
                );
            }
        }
        if let Some(items) = get(config, "block_list").as_elements() {
            for (i, item) in items.iter().enumerate() {
                if get(item, "subnet")
                    .as_str()
                    .is_some_and(|s| !s.starts_with("subnet-"))
                {
                    diags.error_at(
                        AttrPath::attr("block_list")
                            .then_index(i)
                            .then_attr("subnet"),
                        "Invalid subnet",
                        "A subnet id starts with \"subnet-\".",
                    );
                }
            }
        }
    }

    async fn create(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let delay = get(change.config, "create_delay_ms")
            .as_number()
            .and_then(Number::as_i64)
            .unwrap_or(0);
        if delay > 0 {
            // Tell a waiting test that the provider is now inside create.
            let _ = std::fs::write(store.dir.join("creating"), b"");
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(delay as u64)) => {}
                () = ctx.stopped() => {
                    return Outcome::failed(
                        Value::Null,
                        Diagnostic::error(
                            "Interrupted",
                            "Terraform asked the provider to stop; the object was not created.",
                        ),
                    );
                }
            }
        }
        let id = random_id();
        let state = Self::fill(change.planned, &id, &now_rfc3339(), 1);
        match Self::save(store, &id, &state) {
            Ok(()) => Outcome::ok(state).with_private(b"created".to_vec()),
            Err(d) => Outcome::failed(Value::Null, d),
        }
    }

    async fn read(&self, ctx: &Ctx, state: Value, private: Vec<u8>) -> Outcome {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(state, d),
        };
        let Some(id) = get(&state, "id").as_str() else {
            return Outcome::failed(state, Diagnostic::error("State has no id", ""));
        };
        if private != b"created" && !private.is_empty() {
            return Outcome::failed(
                state,
                Diagnostic::error(
                    "Private state lost",
                    "Terraform did not pass back the private bytes.",
                ),
            );
        }
        match Self::load(store, id) {
            Ok(Some(remote)) => Outcome::ok(remote),
            Ok(None) => Outcome::ok(Value::Null),
            Err(d) => Outcome::failed(state, d),
        }
    }

    async fn update(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(change.prior.clone(), d),
        };
        let id = get(change.prior, "id")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let created = get(change.prior, "created_at")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let revision = get(change.prior, "revision")
            .as_number()
            .and_then(Number::as_i64)
            .unwrap_or(0)
            + 1;
        let state = Self::fill(change.planned, &id, &created, revision);
        match Self::save(store, &id, &state) {
            Ok(()) => Outcome::ok(state),
            Err(d) => Outcome::failed(change.prior.clone(), d),
        }
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return d.into(),
        };
        Self::objects(store).delete(prior)
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        Self::objects(ctx.data::<Store>()?).load_for_import(id)
    }

    /// Version 0 called `name` `title`.
    fn upgrade_state(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        if version != 0 {
            return Err(Diagnostic::error(
                "Unsupported state version",
                format!("version {version}"),
            )
            .into());
        }
        let mut raw: serde_json::Value = serde_json::from_slice(raw_json)
            .map_err(|e| Diagnostic::error("Invalid stored state", e.to_string()))?;
        if let Some(obj) = raw.as_object_mut() {
            if let Some(title) = obj.remove("title") {
                obj.insert("name".into(), title);
            }
        }
        let bytes = serde_json::to_vec(&raw)
            .map_err(|e| Diagnostic::error("Invalid stored state", e.to_string()))?;
        json::decode(&bytes, Self::type_of())
            .map_err(|e| Diagnostic::error("Invalid stored state", e.to_string()).into())
    }
}

/// Returns its input: proves dynamic values through a data source.
pub struct Echo;

#[async_trait::async_trait]
impl DataSource for Echo {
    fn type_name(&self) -> &'static str {
        "rtest_echo"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::required("input", Type::Dynamic),
                Attribute::computed("output", Type::Dynamic),
                Attribute::computed("kind", Type::String),
            ]),
        )
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        let input = get(config, "input").clone();
        let kind = match &input {
            Value::Dynamic(t, _) => t.to_constraint_json(),
            _ => "null".into(),
        };
        let mut fields: BTreeMap<String, Value> = BTreeMap::new();
        fields.insert("input".into(), input.clone());
        fields.insert("output".into(), input);
        fields.insert("kind".into(), Value::string(kind));
        Outcome::ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperprotect::runtime::framework::GrpcProvider;

    #[test]
    fn every_schema_passes_terraforms_rules() {
        let served = GrpcProvider::new(RtestProvider);
        let schemas = served.schemas();
        assert_eq!(schemas.len(), 6);
        for (name, schema) in schemas {
            assert_eq!(schema.check(), Ok(()), "{name}");
        }
    }
}
