//! The parts of `rtest` that prove the newer protocol features:
//! - `rtest_item`, a small resource with a resource identity (`id`), importable by id and by
//!   identity (Terraform ≥ 1.12);
//! - the list resource `rtest_item` for `terraform query` (Terraform ≥ 1.14), filtering by a
//!   name prefix, with the full object on request (`-generate-config-out`);
//! - the ephemeral resource `rtest_secret` (Terraform ≥ 1.10), whose value is derived from its
//!   name and which leaves `opened`/`closed` marker files so tests can see open and close.
//!
//! Items are JSON files under `<store_dir>/items/`, so tests can make objects "outside
//! Terraform" by writing files.

use std::path::PathBuf;

use hyperprotect::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use hyperprotect::runtime::framework::plan::get;
use hyperprotect::runtime::framework::{
    Change, Ctx, EphemeralResource, ListRequest, ListResource, Listed, Opened, Outcome, Resource,
};
use hyperprotect::runtime::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use hyperprotect::runtime::value::{Type, Value};

use super::{is_simple_name, Objects, Store};

/// A small resource with an identity.
pub struct Item;

impl Item {
    fn type_of() -> &'static Type {
        static TYPE: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
        TYPE.get_or_init(|| Item.schema().block.implied_type())
    }

    /// Items are JSON files under `<store_dir>/items/`.
    fn objects(store: &Store) -> Objects<'static> {
        Objects {
            dir: store.dir.join("items"),
            ty: Self::type_of(),
        }
    }

    /// Every stored item, in id order.
    fn all(store: &Store) -> Result<Vec<Value>, Diagnostic> {
        let objects = Self::objects(store);
        let entries = match std::fs::read_dir(&objects.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Diagnostic::error("Cannot list items", e.to_string())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_string))
            .collect();
        ids.sort();
        let mut items = Vec::new();
        for id in ids {
            if let Some(item) = objects.load(&id)? {
                items.push(item);
            }
        }
        Ok(items)
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 6];
    openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL random bytes");
    format!("it-{}", hex::encode(bytes))
}

#[async_trait::async_trait]
impl Resource for Item {
    fn type_name(&self) -> &'static str {
        "rtest_item"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::computed("id", Type::String)
                    .use_state_for_unknown()
                    .describe("The item's id, chosen at create."),
                Attribute::required("name", Type::String).describe("The item's name."),
                Attribute::optional("size", Type::Number).describe("Any number."),
                Attribute::optional("note", Type::String).describe("Any text."),
            ])
            .describe("A small object with a resource identity (its id)."),
        )
    }

    async fn create(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let id = random_id();
        let mut state = change.planned.clone();
        if let Value::Object(fields) = &mut state {
            fields.insert("id".into(), Value::string(&id));
        }
        match Self::objects(store).save(&id, &state) {
            Ok(()) => Outcome::ok(state),
            Err(d) => Outcome::failed(Value::Null, d),
        }
    }

    async fn read(&self, ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(state, d),
        };
        let id = get(&state, "id").as_str().unwrap_or_default().to_string();
        match Self::objects(store).load(&id) {
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
        let id = get(change.prior, "id").as_str().unwrap_or_default();
        match Self::objects(store).save(id, change.planned) {
            Ok(()) => Outcome::ok(change.planned.clone()),
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

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema::new(
            0,
            vec![IdentityAttribute::required(
                "id",
                Type::String,
                "The item's id.",
            )],
        ))
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        Some(Value::object([("id", get(state, "id").clone())]))
    }

    async fn import_by_identity(&self, ctx: &Ctx, identity: &Value) -> Result<Value, Diagnostics> {
        let Some(id) = get(identity, "id").as_str() else {
            return Err(
                Diagnostic::error("Identity without id", "The identity needs an id.")
                    .at(AttrPath::attr("id"))
                    .into(),
            );
        };
        Self::objects(ctx.data::<Store>()?).load_for_import(id)
    }
}

/// `terraform query` over the stored items.
pub struct ItemList;

#[async_trait::async_trait]
impl ListResource for ItemList {
    fn type_name(&self) -> &'static str {
        "rtest_item"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![Attribute::optional("name_prefix", Type::String)
                .describe("Only items whose name starts with this.")])
            .describe("Lists rtest items."),
        )
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if get(config, "name_prefix").as_str() == Some("") {
            diags.error_at(
                AttrPath::attr("name_prefix"),
                "Invalid name_prefix",
                "name_prefix must not be empty; leave it out to list every item.",
            );
        }
    }

    async fn list(&self, ctx: &Ctx, req: ListRequest<'_>) -> Result<Vec<Listed>, Diagnostics> {
        let store = ctx.data::<Store>()?;
        let prefix = get(req.config, "name_prefix").as_str().unwrap_or("");
        Ok(Item::all(store)?
            .into_iter()
            .filter(|item| get(item, "name").as_str().unwrap_or("").starts_with(prefix))
            .map(|item| Listed {
                display_name: format!(
                    "{} ({})",
                    get(&item, "name").as_str().unwrap_or(""),
                    get(&item, "id").as_str().unwrap_or("")
                ),
                identity: Value::object([("id", get(&item, "id").clone())]),
                state: Some(item),
            })
            .collect())
    }
}

/// An ephemeral secret: never in state or plan files.
pub struct Secret;

impl Secret {
    /// The value handed out for a name: derived, so a test can look for it in files.
    pub fn value_for(name: &str) -> String {
        let digest = openssl::sha::sha256(format!("rtest-secret:{name}").as_bytes());
        format!("s3cr3t-{}", hex::encode(&digest[..8]))
    }

    fn marker(store: &Store, name: &str, event: &str) -> PathBuf {
        store.dir.join(format!("secret-{name}.{event}"))
    }
}

#[async_trait::async_trait]
impl EphemeralResource for Secret {
    fn type_name(&self) -> &'static str {
        "rtest_secret"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::required("name", Type::String)
                    .describe("Which secret (letters, digits and '-')."),
                Attribute::computed("value", Type::String)
                    .sensitive()
                    .describe("The secret value."),
            ])
            .describe("A secret that Terraform never stores."),
        )
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if let Some(name) = get(config, "name").as_str() {
            if !is_simple_name(name) {
                diags.error_at(
                    AttrPath::attr("name"),
                    "Invalid secret name",
                    format!("{name:?}: use letters, digits and '-'."),
                );
            }
        }
    }

    async fn open(&self, ctx: &Ctx, config: &Value) -> Opened {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return Opened::failed(d),
        };
        let name = get(config, "name").as_str().unwrap_or_default().to_string();
        let _ = std::fs::write(Self::marker(store, &name, "opened"), b"");
        let mut opened = Opened::ok(Value::object([
            ("name", Value::string(&name)),
            ("value", Value::string(Self::value_for(&name))),
        ]));
        // Handed back at close, to prove private bytes make the round trip.
        opened.private = Some(name.into_bytes());
        opened
    }

    async fn close(&self, ctx: &Ctx, private: Option<&[u8]>) -> Diagnostics {
        let store = match ctx.data::<Store>() {
            Ok(s) => s,
            Err(d) => return d.into(),
        };
        let name = String::from_utf8_lossy(private.unwrap_or_default());
        match std::fs::write(Self::marker(store, &name, "closed"), b"") {
            Ok(()) => Diagnostics::new(),
            Err(e) => Diagnostic::error("Cannot write the close marker", e.to_string()).into(),
        }
    }
}
