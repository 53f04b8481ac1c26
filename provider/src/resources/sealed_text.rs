//! The life cycle `hyperprotect_workload` and `hyperprotect_encrypted_text` share: one
//! plaintext, stored or write-only (exactly one of the two, a declared rule), sealed once into
//! a token and kept until an input changes. Each resource is a model implementing
//! [`SealedModel`] (its attribute names differ) served by [`SealedTextResource`].

use std::marker::PhantomData;

use crate::contract::document::sha256_hex;
use crate::contract::schema::SectionKind;
use crate::contract::token;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::Schema;
use crate::runtime::value::{Known, Number, Value};

use super::encryption::{self, CERTIFICATE};

/// A sealed text's inputs and outputs, whatever the resource calls them.
pub struct Sealed<'a> {
    /// The stored plaintext attribute's value.
    pub stored: &'a Known<String>,
    /// Its write-only twin's value.
    pub write_only: &'a Known<String>,
    /// The write-only version the user bumps.
    pub version: &'a Known<Number>,
    pub certificate: &'a Known<String>,
    pub platform: &'a Known<String>,
}

/// The model of a sealed-text resource.
pub trait SealedModel: Model + Default + Send + Sync + 'static {
    /// The resource's type name.
    const TYPE_NAME: &'static str;
    /// The stored plaintext attribute (the write-only one is `<STORED>_wo`).
    const STORED: &'static str;
    /// The write-only plaintext attribute.
    const WRITE_ONLY: &'static str;
    /// The contract section the plaintext is checked against, if any.
    const SECTION: Option<SectionKind>;
    /// The schema, with its declared rules.
    fn schema() -> Schema;
    /// The inputs.
    fn sealed(&self) -> Sealed<'_>;
    /// The outputs: `id`, `encrypted`, `sha256`.
    fn outputs(&mut self) -> [&mut Known<String>; 3];
}

impl Sealed<'_> {
    /// The plaintext, from whichever of the two attributes is set, with that attribute.
    fn text<M: SealedModel>(&self) -> (Known<&str>, &'static str) {
        match self.stored {
            Known::Null => (self.write_only.as_deref(), M::WRITE_ONLY),
            stored => (stored.as_deref(), M::STORED),
        }
    }
}

/// Serves a [`SealedModel`].
pub struct SealedTextResource<M>(PhantomData<fn() -> M>);

impl<M> SealedTextResource<M> {
    /// The resource.
    pub fn new() -> Self {
        SealedTextResource(PhantomData)
    }
}

impl<M> Default for SealedTextResource<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the declared rules cannot say: the certificate is usable now, the plaintext a valid
/// section.
fn check<M: SealedModel>(model: &M, diags: &mut Diagnostics) {
    let sealed = model.sealed();
    if let Known::Value(cert) = sealed.certificate {
        encryption::encryption_key(cert, diags);
    }
    if let (Some(kind), (Known::Value(text), at)) = (M::SECTION, sealed.text::<M>()) {
        encryption::check_section(kind, text, at, diags);
    }
}

/// Encrypts the plaintext (create, or an update that changed an input).
fn seal<M: SealedModel>(change: Change<'_>) -> Outcome {
    let (config, mut state) = match (M::build(change.config), M::build(change.planned)) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(d), _) | (_, Err(d)) => return Outcome::failed(Value::Null, d),
    };
    let mut diags = Diagnostics::new();
    check(&config, &mut diags);
    let sealed = config.sealed();
    let (Known::Value(text), Known::Value(cert), Known::Value(platform)) = (
        sealed.text::<M>().0,
        sealed.certificate,
        encryption::platform(sealed.platform),
    ) else {
        diags.push(Diagnostic::error(
            "Incomplete configuration",
            "The plaintext, encryption_certificate and platform must be known at apply.",
        ));
        return Outcome::failed(Value::Null, diags);
    };
    let Some(key) = encryption::encryption_key(cert, &mut Diagnostics::new()) else {
        return Outcome::failed(Value::Null, diags);
    };
    if diags.has_errors() {
        return Outcome::failed(Value::Null, diags);
    }
    let encrypted = match token::encrypt(text.as_bytes(), &key, platform) {
        Ok(t) => t,
        Err(e) => {
            diags.error_at(
                AttrPath::attr(CERTIFICATE),
                "Encryption failed",
                e.to_string(),
            );
            return Outcome::failed(Value::Null, diags);
        }
    };
    let sha = sha256_hex(text.as_bytes());
    let [id, token_out, sha256] = state.outputs();
    *id = Known::Value(encryption::token_id(&encrypted));
    *sha256 = Known::Value(sha);
    *token_out = Known::Value(encrypted);
    let mut outcome = Outcome::ok(state.to_value());
    outcome.diagnostics = diags;
    outcome
}

#[async_trait::async_trait]
impl<M: SealedModel> Resource for SealedTextResource<M> {
    fn type_name(&self) -> &'static str {
        M::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        M::schema()
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(M::fields())
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        // A value the model cannot hold fails a declared rule, which reported it already.
        if let Ok(model) = M::build(config) {
            check(&model, diags);
        }
    }

    /// Plans a new token only when an input changed: the plaintext (by its hash), the
    /// certificate, the platform or the write-only version. Otherwise the prior token stays.
    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        let (config, mut prior, mut planned) = match (
            M::build(plan.config),
            M::build_or_default(plan.prior),
            M::build(&plan.planned),
        ) {
            (Ok(c), Ok(p), Ok(n)) => (c, p, n),
            (c, p, n) => {
                for d in [c.err(), p.err(), n.err()].into_iter().flatten() {
                    plan.diagnostics.extend(d);
                }
                return;
            }
        };
        let digest = config
            .sealed()
            .text::<M>()
            .0
            .value()
            .map(|t| sha256_hex(t.as_bytes()));
        let prior_sha = match &prior.outputs()[2] {
            Known::Value(s) => Some(s.clone()),
            _ => None,
        };
        let (now, before) = (config.sealed(), prior.sealed());
        let unchanged = !plan.is_create()
            && digest == prior_sha
            && now.certificate == before.certificate
            && now.platform == before.platform
            && now.version == before.version;
        let kept: Vec<Known<String>> = prior.outputs().into_iter().map(|o| o.clone()).collect();
        for (out, prior) in planned.outputs().into_iter().zip(kept) {
            *out = if unchanged { prior } else { Known::Unknown };
        }
        if let (false, Some(d)) = (unchanged, digest) {
            *planned.outputs()[2] = Known::Value(d);
        }
        plan.planned = planned.to_value();
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        seal::<M>(change)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        // Nothing lives outside the state: the token is what it was when made.
        Outcome::ok(state)
    }

    async fn update(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        seal::<M>(change)
    }

    async fn delete(&self, _ctx: &Ctx, _prior: &Value, _private: &[u8]) -> Diagnostics {
        Diagnostics::new()
    }
}
