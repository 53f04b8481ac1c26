//! The newer RPCs through the service trait, where the acceptance tests cannot reach them:
//! identity upgrades, ephemeral renewal, list limits and the errors a provider bug or an odd
//! request must produce (as diagnostics, never as gRPC errors).

use std::sync::Arc;

use tonic::Request;

use super::GrpcProvider;
use crate::runtime::diag::Diagnostics;
use crate::runtime::framework::{
    Change, ConfigureRequest, Ctx, DataSource, EphemeralResource, ListRequest, ListResource,
    Listed, Opened, Outcome, Provider, ProviderData, Renewed, Resource,
};
use crate::runtime::proto::tfplugin6 as pb;
use crate::runtime::proto::tfplugin6::provider_server::Provider as _;
use crate::runtime::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::runtime::value::{msgpack, Type, Value};

struct TestProvider;
/// `test_thing` has an identity (version 1 is `{id}`; version 0 called it `name`);
/// `test_plain` has the same shape and no identity.
struct Thing {
    type_name: &'static str,
    has_identity: bool,
}
struct Lease;

fn block() -> Schema {
    Schema::new(0, Block::new(vec![Attribute::computed("id", Type::String)]))
}

#[async_trait::async_trait]
impl Provider for TestProvider {
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new(vec![]))
    }
    async fn configure(&self, _: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics) {
        (None, Diagnostics::new())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(Thing {
                type_name: "test_thing",
                has_identity: true,
            }),
            Arc::new(Thing {
                type_name: "test_plain",
                has_identity: false,
            }),
        ]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![]
    }
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        vec![Arc::new(Lease)]
    }
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![
            Arc::new(Things("test_thing")),
            Arc::new(Things("test_plain")),
        ]
    }
}

#[async_trait::async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn schema(&self) -> Schema {
        block()
    }
    async fn create(&self, _: &Ctx, c: Change<'_>) -> Outcome {
        Outcome::ok(c.planned.clone())
    }
    async fn read(&self, _: &Ctx, state: Value, _: Vec<u8>) -> Outcome {
        Outcome::ok(state)
    }
    async fn update(&self, _: &Ctx, c: Change<'_>) -> Outcome {
        Outcome::ok(c.planned.clone())
    }
    async fn delete(&self, _: &Ctx, _: &Value, _: &[u8]) -> Diagnostics {
        Diagnostics::new()
    }
    fn identity_schema(&self) -> Option<IdentitySchema> {
        self.has_identity.then(|| {
            IdentitySchema::new(
                1,
                vec![IdentityAttribute::required("id", Type::String, "The id.")],
            )
        })
    }
    fn identity(&self, state: &Value) -> Option<Value> {
        Some(Value::object([("id", state.attr("id")?.clone())]))
    }
    fn upgrade_identity(&self, version: i64, raw: &[u8]) -> Result<Value, Diagnostics> {
        assert_eq!(version, 0);
        let old: serde_json::Value = serde_json::from_slice(raw).unwrap();
        Ok(Value::object([(
            "id",
            Value::string(old["name"].as_str().unwrap()),
        )]))
    }
}

#[async_trait::async_trait]
impl EphemeralResource for Lease {
    fn type_name(&self) -> &'static str {
        "test_lease"
    }
    fn schema(&self) -> Schema {
        block()
    }
    async fn open(&self, _: &Ctx, _: &Value) -> Opened {
        Opened::ok(Value::object([("id", Value::string("lease-1"))]))
    }
    async fn renew(&self, _: &Ctx, private: Option<&[u8]>) -> Renewed {
        assert_eq!(private, Some(&b"kept"[..]));
        Renewed::default()
    }
}

struct Things(&'static str);

#[async_trait::async_trait]
impl ListResource for Things {
    fn type_name(&self) -> &'static str {
        self.0
    }
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new(vec![]))
    }
    async fn list(&self, _: &Ctx, _: ListRequest<'_>) -> Result<Vec<Listed>, Diagnostics> {
        Ok((1..=5)
            .map(|i| Listed {
                display_name: format!("thing {i}"),
                identity: Value::object([("id", Value::string(format!("t{i}")))]),
                state: Some(Value::object([("id", Value::string(format!("t{i}")))])),
            })
            .collect())
    }
}

fn id_type() -> Type {
    Type::object([("id", Type::String)])
}

fn summaries(diags: &[pb::Diagnostic]) -> Vec<&str> {
    diags.iter().map(|d| d.summary.as_str()).collect()
}

async fn upgrade(version: i64, json: &str) -> pb::upgrade_resource_identity::Response {
    GrpcProvider::new(TestProvider)
        .upgrade_resource_identity(Request::new(pb::upgrade_resource_identity::Request {
            type_name: "test_thing".into(),
            version,
            raw_identity: Some(pb::RawState {
                json: json.as_bytes().to_vec(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn identity_schemas_list_only_resources_with_an_identity() {
    let served = GrpcProvider::new(TestProvider);
    let resp = served
        .get_resource_identity_schemas(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.identity_schemas.len(), 1);
    let schema = &resp.identity_schemas["test_thing"];
    assert_eq!(schema.version, 1);
    let attr = &schema.identity_attributes[0];
    assert_eq!(
        (attr.name.as_str(), attr.r#type.as_slice()),
        ("id", &b"\"string\""[..])
    );
    assert!(attr.required_for_import && !attr.optional_for_import);
}

#[tokio::test]
async fn an_older_identity_is_upgraded_and_a_current_one_decoded() {
    for (version, json) in [(0, r#"{"name":"x1"}"#), (1, r#"{"id":"x1"}"#)] {
        let resp = upgrade(version, json).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let data = resp.upgraded_identity.unwrap().identity_data.unwrap();
        let value = msgpack::decode(&data.msgpack, &id_type()).unwrap();
        assert_eq!(value, Value::object([("id", Value::string("x1"))]));
    }
}

#[tokio::test]
async fn an_identity_from_a_newer_provider_is_refused() {
    let resp = upgrade(2, r#"{"id":"x1"}"#).await;
    assert!(resp.upgraded_identity.is_none());
    assert_eq!(
        summaries(&resp.diagnostics),
        ["Identity from a newer provider"]
    );
}

#[tokio::test]
async fn renewing_without_new_private_bytes_keeps_the_old_ones() {
    let resp = GrpcProvider::new(TestProvider)
        .renew_ephemeral_resource(Request::new(pb::renew_ephemeral_resource::Request {
            type_name: "test_lease".into(),
            private: Some(b"kept".to_vec()),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.diagnostics.is_empty());
    assert_eq!(resp.private.as_deref(), Some(&b"kept"[..]));
    assert!(resp.renew_at.is_none());
}

async fn list(type_name: &str, limit: i64, include: bool) -> Vec<pb::list_resource::Event> {
    use tokio_stream::StreamExt;
    let stream = GrpcProvider::new(TestProvider)
        .list_resource(Request::new(pb::list_resource::Request {
            type_name: type_name.into(),
            config: Some(pb::DynamicValue {
                msgpack: msgpack::encode(&Value::object::<&str>([]), &Type::object::<&str>([]))
                    .unwrap(),
                json: vec![],
            }),
            include_resource_object: include,
            limit,
        }))
        .await
        .unwrap()
        .into_inner();
    stream.map(Result::unwrap).collect().await
}

#[tokio::test]
async fn listing_stops_at_the_limit_and_sends_objects_only_when_asked() {
    let events = list("test_thing", 3, false).await;
    let names: Vec<&str> = events.iter().map(|e| e.display_name.as_str()).collect();
    assert_eq!(names, ["thing 1", "thing 2", "thing 3"]);
    assert!(events.iter().all(|e| e.resource_object.is_none()));
    let identity = events[0]
        .identity
        .as_ref()
        .unwrap()
        .identity_data
        .as_ref()
        .unwrap();
    assert_eq!(
        msgpack::decode(&identity.msgpack, &id_type()).unwrap(),
        Value::object([("id", Value::string("t1"))])
    );
    let events = list("test_thing", 100, true).await;
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.resource_object.is_some()));
}

#[tokio::test]
async fn listing_a_resource_without_identity_is_a_diagnostic() {
    let events = list("test_plain", 10, false).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        summaries(&events[0].diagnostic),
        ["List resource without identity"]
    );
}

#[tokio::test]
async fn importing_by_identity_needs_an_identity_schema() {
    let resp = GrpcProvider::new(TestProvider)
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "test_plain".into(),
            identity: Some(pb::ResourceIdentityData {
                identity_data: Some(pb::DynamicValue {
                    msgpack: msgpack::encode(
                        &Value::object([("id", Value::string("p1"))]),
                        &id_type(),
                    )
                    .unwrap(),
                    json: vec![],
                }),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.imported_resources.is_empty());
    assert_eq!(
        summaries(&resp.diagnostics),
        ["Import by identity not supported"]
    );
}

/// Registers `test_thing` twice: the second is refused, and Terraform is told.
struct Twice;

#[async_trait::async_trait]
impl Provider for Twice {
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new(vec![]))
    }
    async fn configure(&self, _: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics) {
        (None, Diagnostics::new())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        let thing = || {
            Arc::new(Thing {
                type_name: "test_thing",
                has_identity: true,
            }) as Arc<dyn Resource>
        };
        vec![thing(), thing()]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![]
    }
}

#[tokio::test]
async fn registering_a_type_name_twice_is_refused() {
    let served = GrpcProvider::new(Twice);
    assert_eq!(
        served.registration_problems(),
        ["resource type \"test_thing\" is registered more than once"]
    );
    let schema = served
        .get_provider_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&schema.diagnostics),
        ["Provider registers an object twice"]
    );
    assert_eq!(schema.resource_schemas.len(), 1);
    assert!(GrpcProvider::new(TestProvider)
        .registration_problems()
        .is_empty());
}
