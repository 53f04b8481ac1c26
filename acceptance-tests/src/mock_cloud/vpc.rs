//! VPC API routes other than instances: regions and zones, instance profiles, operating
//! systems and images (the read-only catalog), and VPCs, subnets and SSH keys (creatable).
//! Also the seed data of a fresh state directory.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::catalog::{self, DEFAULT_RESOURCE_GROUP_ID, ZONES};
use super::error::ApiError;
use super::http::{page_params, paginate, parse_body, ApiVersion, BodyKind, Params};
use super::ids::{self, REGION};
use super::state::{Key, State as St, StoreError, Subnet, Vpc};
use super::App;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "persisting state failed");
        ApiError::internal("The emulator could not persist its state")
    }
}

/// An identity reference: `{"id"}`, `{"crn"}`, `{"href"}` or `{"name"}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Ref {
    pub id: Option<String>,
    pub crn: Option<String>,
    pub href: Option<String>,
    pub name: Option<String>,
}

impl Ref {
    /// Whether this reference designates the resource with these identities.
    pub fn matches(&self, id: &str, crn: &str, name: &str) -> bool {
        if let Some(i) = &self.id {
            return i == id;
        }
        if let Some(c) = &self.crn {
            return c == crn;
        }
        if let Some(h) = &self.href {
            return h.rsplit('/').next() == Some(id);
        }
        if let Some(n) = &self.name {
            return n == name;
        }
        false
    }

    pub fn describe(&self) -> String {
        self.id
            .as_ref()
            .or(self.crn.as_ref())
            .or(self.href.as_ref())
            .or(self.name.as_ref())
            .cloned()
            .unwrap_or_else(|| "<empty reference>".into())
    }
}

// ---------------------------------------------------------------- seed

fn ssh_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// An OpenSSH `ssh-ed25519` public key line for a freshly generated key (private part
/// discarded: the mock never logs in anywhere).
fn generated_ed25519_public_key() -> Option<String> {
    let key = openssl::pkey::PKey::generate_ed25519().ok()?;
    let raw = key.raw_public_key().ok()?;
    let mut blob = Vec::new();
    ssh_string(&mut blob, b"ssh-ed25519");
    ssh_string(&mut blob, &raw);
    Some(format!(
        "ssh-ed25519 {} mock-cloud-seed",
        STANDARD.encode(blob)
    ))
}

fn subnet_cidr_for(index: u64) -> String {
    format!("10.{}.0.0/18", 240u64.wrapping_add(index) % 256)
}

/// Adds the first-start resources: one VPC, a subnet per zone, one SSH key.
pub fn seed(mut st: St) -> St {
    let now = ids::now_ms();
    let vpc_id = ids::regional_id();
    let seq = st.take_seq();
    st.vpcs.insert(
        seq,
        Vpc {
            seq,
            crn: ids::crn("vpc", None, &vpc_id),
            id: vpc_id.clone(),
            name: "mock-vpc".into(),
            created_at: now,
        },
    );
    for (i, zone) in ZONES.iter().enumerate() {
        let id = ids::zonal_id(zone);
        let seq = st.take_seq();
        st.subnets.insert(
            seq,
            Subnet {
                seq,
                crn: ids::crn("subnet", Some(zone), &id),
                id,
                name: format!("mock-subnet-{}", i + 1),
                vpc_id: vpc_id.clone(),
                zone: zone.to_string(),
                ipv4_cidr_block: subnet_cidr_for(i as u64),
                created_at: now,
                next_host: 4,
            },
        );
    }
    if let Some(pk) = generated_ed25519_public_key() {
        if let Ok(parsed) = parse_public_key(&pk) {
            let id = ids::regional_id();
            let seq = st.take_seq();
            st.keys.insert(
                seq,
                Key {
                    seq,
                    crn: ids::crn("key", None, &id),
                    id,
                    name: "mock-key".into(),
                    key_type: parsed.key_type.into(),
                    public_key: pk,
                    fingerprint: parsed.fingerprint,
                    length: parsed.length,
                    created_at: now,
                },
            );
        }
    }
    st
}

// ---------------------------------------------------------------- regions, zones

fn region_check(region: &str) -> Result<(), ApiError> {
    if region == REGION {
        Ok(())
    } else {
        Err(ApiError::not_found("Region", region))
    }
}

pub async fn list_regions(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({"regions": [catalog::region_json(&app.base)]}))
}

pub async fn get_region(
    State(app): State<Arc<App>>,
    Path(region): Path<String>,
) -> Result<Json<Value>, ApiError> {
    region_check(&region)?;
    Ok(Json(catalog::region_json(&app.base)))
}

pub async fn list_zones(
    State(app): State<Arc<App>>,
    Path(region): Path<String>,
) -> Result<Json<Value>, ApiError> {
    region_check(&region)?;
    let zones: Vec<Value> = ZONES
        .iter()
        .map(|z| catalog::zone_json(&app.base, z))
        .collect();
    Ok(Json(json!({"zones": zones})))
}

pub async fn get_zone(
    State(app): State<Arc<App>>,
    Path((region, zone)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    region_check(&region)?;
    if !ZONES.contains(&zone.as_str()) {
        return Err(ApiError::not_found("Zone", &zone));
    }
    Ok(Json(catalog::zone_json(&app.base, &zone)))
}

// ---------------------------------------------------------------- profiles, OS, images

pub async fn list_profiles(State(app): State<Arc<App>>) -> Json<Value> {
    let profiles: Vec<Value> = catalog::PROFILES
        .iter()
        .map(|p| p.to_json(&app.base))
        .collect();
    Json(json!({"profiles": profiles}))
}

pub async fn get_profile(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    catalog::profile(&name)
        .map(|p| Json(p.to_json(&app.base)))
        .ok_or_else(|| ApiError::not_found("Instance profile", &name))
}

pub async fn list_operating_systems(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let items = catalog::OPERATING_SYSTEMS
        .iter()
        .enumerate()
        .map(|(i, o)| (i as u64 + 1, o.to_json(&app.base)))
        .collect();
    Ok(Json(paginate(
        &app.base,
        "/v1/operating_systems",
        "operating_systems",
        items,
        &page,
        &[],
    )))
}

pub async fn get_operating_system(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    catalog::operating_system(&name)
        .map(|o| Json(o.to_json(&app.base)))
        .ok_or_else(|| ApiError::not_found("Operating system", &name))
}

pub async fn list_images(
    State(app): State<Arc<App>>,
    Extension(ApiVersion(version)): Extension<ApiVersion>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let name = params.get("name");
    let visibility = params.get("visibility");
    if let Some(v) = visibility {
        if v != "public" && v != "private" {
            return Err(ApiError::bad_request(
                "validation_enum",
                "visibility must be `public` or `private`",
            )
            .parameter("visibility", Some(v)));
        }
    }
    let statuses: Option<Vec<&str>> = params.get("status").map(|s| s.split(',').collect());
    let udf = params.get("user_data_format");
    let items = catalog::IMAGES
        .iter()
        .filter(|i| name.is_none_or(|n| n == i.name))
        .filter(|_| visibility.is_none_or(|v| v == "public"))
        .filter(|i| statuses.as_ref().is_none_or(|s| s.contains(&i.status)))
        .filter(|_| udf.is_none_or(|u| u.split(',').any(|u| u == "cloud_init")))
        .map(|i| (i.seq, i.to_json(&app.base, &version)))
        .collect();
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for k in ["name", "visibility", "status", "user_data_format"] {
        if let Some(v) = params.get(k) {
            filters.push((k, v));
        }
    }
    Ok(Json(paginate(
        &app.base,
        "/v1/images",
        "images",
        items,
        &page,
        &filters,
    )))
}

pub async fn get_image(
    State(app): State<Arc<App>>,
    Extension(ApiVersion(version)): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    catalog::image(&id)
        .map(|i| Json(i.to_json(&app.base, &version)))
        .ok_or_else(|| ApiError::not_found("Image", &id))
}

// ---------------------------------------------------------------- VPCs

pub fn vpc_ref(base: &str, v: &Vpc) -> Value {
    json!({"id": v.id, "crn": v.crn, "href": format!("{base}/v1/vpcs/{}", v.id), "name": v.name, "resource_type": "vpc"})
}

/// A reference to a VPC that no longer exists (real API: `deleted.more_info`).
pub fn deleted_ref(base: &str, collection: &str, id: &str) -> Value {
    let href = format!("{base}/v1/{collection}/{id}");
    json!({"id": id, "href": href, "deleted": {"more_info": href}})
}

fn vpc_json(base: &str, v: &Vpc) -> Value {
    let short = &v.id[v.id.len().saturating_sub(8)..];
    json!({
        "id": v.id,
        "crn": v.crn,
        "href": format!("{base}/v1/vpcs/{}", v.id),
        "name": v.name,
        "created_at": ids::rfc3339(v.created_at),
        "status": "available",
        "classic_access": false,
        "default_network_acl": {"id": format!("r006-acl-{short}"), "name": format!("{}-acl", v.name)},
        "default_security_group": {"id": format!("r006-sg-{short}"), "name": format!("{}-sg", v.name)},
        "default_routing_table": {"id": format!("r006-rt-{short}"), "name": format!("{}-rt", v.name)},
        "resource_group": catalog::resource_group_ref(base),
        "resource_type": "vpc",
    })
}

fn check_name(name: &str, field: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "validation_failure",
            format!("{field} `{name}` must match ^([a-z]|[a-z][-a-z0-9]*[a-z0-9])$ and be at most 63 characters"),
        )
        .field(field))
    }
}

fn check_resource_group(rg: &Option<Ref>) -> Result<(), ApiError> {
    match rg {
        Some(r) if !r.matches(DEFAULT_RESOURCE_GROUP_ID, "", "Default") => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Resource group {} not found", r.describe()),
        )
        .field("resource_group")),
        _ => Ok(()),
    }
}

fn generated_name(prefix: &str) -> String {
    let u = ids::uuid();
    format!("{prefix}-{}", &u[..8])
}

pub async fn list_vpcs(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let items = app
        .store
        .read()
        .vpcs
        .values()
        .map(|v| (v.seq, vpc_json(&app.base, v)))
        .collect();
    Ok(Json(paginate(
        &app.base,
        "/v1/vpcs",
        "vpcs",
        items,
        &page,
        &[],
    )))
}

pub async fn get_vpc(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let st = app.store.read();
    st.vpc(&id)
        .map(|v| Json(vpc_json(&app.base, v)))
        .ok_or_else(|| ApiError::not_found("VPC", &id))
}

#[derive(Deserialize)]
struct VpcPrototype {
    name: Option<String>,
    resource_group: Option<Ref>,
    #[serde(rename = "address_prefix_management")]
    _address_prefix_management: Option<String>,
    #[serde(rename = "classic_access")]
    _classic_access: Option<bool>,
}

pub async fn create_vpc(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let proto: VpcPrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let name = proto.name.unwrap_or_else(|| generated_name("vpc"));
    check_name(&name, "name")?;
    check_resource_group(&proto.resource_group)?;
    let now = ids::now_ms();
    let vpc = app
        .store
        .update(now, |st| {
            if st.vpcs.values().any(|v| v.name == name) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "vpc_name_exists",
                    format!("A VPC named `{name}` already exists"),
                )
                .field("name"));
            }
            let id = ids::regional_id();
            let seq = st.take_seq();
            let vpc = Vpc {
                seq,
                crn: ids::crn("vpc", None, &id),
                id,
                name,
                created_at: now,
            };
            st.vpcs.insert(seq, vpc.clone());
            Ok(vpc)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(vpc_json(&app.base, &vpc))).into_response())
}

pub async fn delete_vpc(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .update(ids::now_ms(), |st| {
            let seq = st
                .vpc(&id)
                .map(|v| v.seq)
                .ok_or_else(|| ApiError::not_found("VPC", &id))?;
            if st.subnets.values().any(|s| s.vpc_id == id) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "vpc_in_use",
                    format!("VPC {id} still has subnets; delete them first"),
                ));
            }
            st.vpcs.remove(&seq);
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- subnets

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if !(8..=29).contains(&len) {
        return None;
    }
    let mask = u32::MAX << (32 - len);
    (u32::from(ip) & !mask == 0).then_some((ip, len))
}

/// Address count of a subnet's CIDR.
pub fn subnet_size(s: &Subnet) -> u32 {
    parse_cidr(&s.ipv4_cidr_block)
        .map(|(_, len)| 1u32 << (32 - len))
        .unwrap_or(0)
}

/// The `n`th address of the subnet, or `None` past its end (the last address is reserved).
pub fn subnet_address(s: &Subnet, n: u32) -> Option<String> {
    let (ip, _) = parse_cidr(&s.ipv4_cidr_block)?;
    (n < subnet_size(s).saturating_sub(1)).then(|| Ipv4Addr::from(u32::from(ip) + n).to_string())
}

/// Whether `addr` is a host address of the subnet (not the 4 reserved nor the broadcast).
pub fn subnet_contains(s: &Subnet, addr: &str) -> bool {
    let (Some((ip, _)), Ok(a)) = (parse_cidr(&s.ipv4_cidr_block), addr.parse::<Ipv4Addr>()) else {
        return false;
    };
    let (base, a) = (u64::from(u32::from(ip)), u64::from(u32::from(a)));
    a >= base + 4 && a + 1 < base + u64::from(subnet_size(s))
}

pub fn subnet_ref(base: &str, s: &Subnet) -> Value {
    json!({"id": s.id, "crn": s.crn, "href": format!("{base}/v1/subnets/{}", s.id), "name": s.name, "resource_type": "subnet"})
}

fn subnet_json(base: &str, st: &St, s: &Subnet) -> Value {
    let used = st
        .instances
        .values()
        .filter(|i| i.primary_nic.subnet_id == s.id)
        .count() as u32;
    let size = subnet_size(s);
    json!({
        "id": s.id,
        "crn": s.crn,
        "href": format!("{base}/v1/subnets/{}", s.id),
        "name": s.name,
        "created_at": ids::rfc3339(s.created_at),
        "status": "available",
        "ip_version": "ipv4",
        "ipv4_cidr_block": s.ipv4_cidr_block,
        "total_ipv4_address_count": size,
        "available_ipv4_address_count": size.saturating_sub(5 + used),
        "vpc": st.vpc(&s.vpc_id).map(|v| vpc_ref(base, v)).unwrap_or_else(|| deleted_ref(base, "vpcs", &s.vpc_id)),
        "zone": catalog::zone_ref(base, &s.zone),
        "resource_group": catalog::resource_group_ref(base),
        "resource_type": "subnet",
    })
}

pub async fn list_subnets(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let vpc_id = params.get("vpc.id");
    let zone = params.get("zone.name");
    let st = app.store.read();
    let items = st
        .subnets
        .values()
        .filter(|s| vpc_id.is_none_or(|v| *v == s.vpc_id))
        .filter(|s| zone.is_none_or(|z| *z == s.zone))
        .map(|s| (s.seq, subnet_json(&app.base, &st, s)))
        .collect();
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for k in ["vpc.id", "zone.name"] {
        if let Some(v) = params.get(k) {
            filters.push((k, v));
        }
    }
    Ok(Json(paginate(
        &app.base,
        "/v1/subnets",
        "subnets",
        items,
        &page,
        &filters,
    )))
}

pub async fn get_subnet(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let st = app.store.read();
    st.subnet(&id)
        .map(|s| Json(subnet_json(&app.base, &st, s)))
        .ok_or_else(|| ApiError::not_found("Subnet", &id))
}

#[derive(Deserialize)]
struct SubnetPrototype {
    name: Option<String>,
    vpc: Option<Ref>,
    zone: Option<Ref>,
    ipv4_cidr_block: Option<String>,
    total_ipv4_address_count: Option<u32>,
    resource_group: Option<Ref>,
}

pub async fn create_subnet(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let proto: SubnetPrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let name = proto.name.unwrap_or_else(|| generated_name("subnet"));
    check_name(&name, "name")?;
    check_resource_group(&proto.resource_group)?;
    let vpc_ref_in = proto
        .vpc
        .ok_or_else(|| ApiError::bad_request("missing_field", "vpc is required").field("vpc"))?;
    let cidr = match (&proto.ipv4_cidr_block, proto.total_ipv4_address_count) {
        (Some(c), None) => {
            parse_cidr(c).ok_or_else(|| {
                ApiError::bad_request(
                    "validation_failure",
                    format!("ipv4_cidr_block `{c}` must be an IPv4 network a.b.c.d/8..29"),
                )
                .field("ipv4_cidr_block")
            })?;
            Some(c.clone())
        }
        (None, Some(n)) => {
            if !n.is_power_of_two() || !(8..=16384).contains(&n) {
                return Err(ApiError::bad_request(
                    "validation_failure",
                    format!("total_ipv4_address_count {n} must be a power of two from 8 to 16384"),
                )
                .field("total_ipv4_address_count"));
            }
            None
        }
        _ => {
            return Err(ApiError::bad_request(
                "validation_failure",
                "exactly one of ipv4_cidr_block or total_ipv4_address_count is required",
            )
            .field("ipv4_cidr_block"))
        }
    };
    let zone_name = proto
        .zone
        .as_ref()
        .and_then(|z| z.name.clone())
        .or_else(|| {
            proto
                .zone
                .as_ref()
                .and_then(|z| z.href.as_ref())
                .and_then(|h| h.rsplit('/').next().map(str::to_string))
        });
    if cidr.is_none() && zone_name.is_none() {
        return Err(ApiError::bad_request(
            "missing_field",
            "zone is required with total_ipv4_address_count",
        )
        .field("zone"));
    }
    let zone = zone_name.unwrap_or_else(|| ZONES[0].to_string());
    if !ZONES.contains(&zone.as_str()) {
        return Err(ApiError::not_found("Zone", &zone).field("zone"));
    }
    let count = proto.total_ipv4_address_count;
    let now = ids::now_ms();
    let (subnet, json) = app
        .store
        .update(now, |st| {
            let vpc = st
                .vpcs
                .values()
                .find(|v| vpc_ref_in.matches(&v.id, &v.crn, &v.name))
                .ok_or_else(|| ApiError::not_found("VPC", &vpc_ref_in.describe()).field("vpc"))?
                .clone();
            if st
                .subnets
                .values()
                .any(|s| s.name == name && s.vpc_id == vpc.id)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "subnet_name_exists",
                    format!("A subnet named `{name}` already exists in VPC {}", vpc.id),
                )
                .field("name"));
            }
            let id = ids::zonal_id(&zone);
            let seq = st.take_seq();
            let block = cidr.clone().unwrap_or_else(|| {
                let len = 32 - count.unwrap_or(256).trailing_zeros();
                format!("10.{}.0.0/{len}", 240u64.wrapping_add(seq) % 256)
            });
            let subnet = Subnet {
                seq,
                crn: ids::crn("subnet", Some(&zone), &id),
                id,
                name,
                vpc_id: vpc.id,
                zone,
                ipv4_cidr_block: block,
                created_at: now,
                next_host: 4,
            };
            st.subnets.insert(seq, subnet.clone());
            let json = subnet_json(&app.base, st, &subnet);
            Ok((subnet, json))
        })
        .await?;
    let _ = subnet;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub async fn delete_subnet(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .update(ids::now_ms(), |st| {
            let seq = st
                .subnet(&id)
                .map(|s| s.seq)
                .ok_or_else(|| ApiError::not_found("Subnet", &id))?;
            if st.instances.values().any(|i| i.primary_nic.subnet_id == id) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "subnet_not_empty",
                    format!(
                        "Subnet {id} still has instances attached; retry after they are deleted"
                    ),
                ));
            }
            st.subnets.remove(&seq);
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- keys

struct ParsedKey {
    key_type: &'static str,
    fingerprint: String,
    length: u32,
}

fn read_ssh_string<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    if buf.len() < 4 {
        return None;
    }
    let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let rest = &buf[4..];
    if rest.len() < n {
        return None;
    }
    let (s, tail) = rest.split_at(n);
    *buf = tail;
    Some(s)
}

fn parse_public_key(text: &str) -> Result<ParsedKey, String> {
    let mut parts = text.split_whitespace();
    let kind = parts.next().ok_or("the key is empty")?;
    let blob = parts
        .next()
        .and_then(|b| STANDARD.decode(b).ok())
        .ok_or("the key data is not base64")?;
    let mut cur = blob.as_slice();
    let inner = read_ssh_string(&mut cur).ok_or("the key data is truncated")?;
    if inner != kind.as_bytes() {
        return Err(format!("the key data is not a `{kind}` key"));
    }
    let (key_type, length) = match kind {
        "ssh-rsa" => {
            let _e = read_ssh_string(&mut cur).ok_or("the RSA exponent is missing")?;
            let n = read_ssh_string(&mut cur).ok_or("the RSA modulus is missing")?;
            let n = match n.iter().position(|&b| b != 0) {
                Some(p) => &n[p..],
                None => &[][..],
            };
            let bits = match n.first() {
                Some(b) => n.len() as u32 * 8 - b.leading_zeros(),
                None => 0,
            };
            if bits < 2048 {
                return Err(format!(
                    "RSA keys must have at least 2048 bits, this one has {bits}"
                ));
            }
            ("rsa", bits)
        }
        "ssh-ed25519" => {
            let k = read_ssh_string(&mut cur).ok_or("the ed25519 key is missing")?;
            if k.len() != 32 {
                return Err("the ed25519 key must be 32 bytes".into());
            }
            ("ed25519", 256)
        }
        other => {
            return Err(format!(
                "key type `{other}` is not supported (rsa, ed25519)"
            ))
        }
    };
    let digest = openssl::sha::sha256(&blob);
    Ok(ParsedKey {
        key_type,
        fingerprint: format!("SHA256:{}", STANDARD_NO_PAD.encode(digest)),
        length,
    })
}

pub fn key_ref(base: &str, k: &Key) -> Value {
    json!({"id": k.id, "crn": k.crn, "href": format!("{base}/v1/keys/{}", k.id), "name": k.name, "fingerprint": k.fingerprint})
}

fn key_json(base: &str, k: &Key) -> Value {
    json!({
        "id": k.id,
        "crn": k.crn,
        "href": format!("{base}/v1/keys/{}", k.id),
        "name": k.name,
        "created_at": ids::rfc3339(k.created_at),
        "type": k.key_type,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        "length": k.length,
        "resource_group": catalog::resource_group_ref(base),
        "resource_type": "key",
    })
}

pub async fn list_keys(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let items = app
        .store
        .read()
        .keys
        .values()
        .map(|k| (k.seq, key_json(&app.base, k)))
        .collect();
    Ok(Json(paginate(
        &app.base,
        "/v1/keys",
        "keys",
        items,
        &page,
        &[],
    )))
}

pub async fn get_key(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let st = app.store.read();
    st.key(&id)
        .map(|k| Json(key_json(&app.base, k)))
        .ok_or_else(|| ApiError::not_found("Key", &id))
}

#[derive(Deserialize)]
struct KeyPrototype {
    name: Option<String>,
    public_key: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    resource_group: Option<Ref>,
}

pub async fn create_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let proto: KeyPrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let name = proto.name.unwrap_or_else(|| generated_name("key"));
    check_name(&name, "name")?;
    check_resource_group(&proto.resource_group)?;
    let public_key = proto.public_key.ok_or_else(|| {
        ApiError::bad_request("missing_field", "public_key is required").field("public_key")
    })?;
    let parsed = parse_public_key(&public_key).map_err(|why| {
        ApiError::bad_request(
            "validation_failure",
            format!("public_key is invalid: {why}"),
        )
        .field("public_key")
    })?;
    if let Some(t) = &proto.key_type {
        if t != parsed.key_type {
            return Err(ApiError::bad_request(
                "validation_failure",
                format!(
                    "type `{t}` does not match the public key, which is `{}`",
                    parsed.key_type
                ),
            )
            .field("type"));
        }
    }
    let now = ids::now_ms();
    let key = app
        .store
        .update(now, |st| {
            if st.keys.values().any(|k| k.name == name) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "key_name_exists",
                    format!("A key named `{name}` already exists"),
                )
                .field("name"));
            }
            if st
                .keys
                .values()
                .any(|k| k.fingerprint == parsed.fingerprint)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "key_fingerprint_exists",
                    format!(
                        "A key with fingerprint {} already exists",
                        parsed.fingerprint
                    ),
                )
                .field("public_key"));
            }
            let id = ids::regional_id();
            let seq = st.take_seq();
            let key = Key {
                seq,
                crn: ids::crn("key", None, &id),
                id,
                name,
                key_type: parsed.key_type.into(),
                public_key: public_key.trim().to_string(),
                fingerprint: parsed.fingerprint,
                length: parsed.length,
                created_at: now,
            };
            st.keys.insert(seq, key.clone());
            Ok(key)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(key_json(&app.base, &key))).into_response())
}

pub async fn delete_key(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .update(ids::now_ms(), |st| {
            let seq = st
                .key(&id)
                .map(|k| k.seq)
                .ok_or_else(|| ApiError::not_found("Key", &id))?;
            st.keys.remove(&seq);
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_parse() {
        let pk = generated_ed25519_public_key().unwrap();
        let p = parse_public_key(&pk).unwrap();
        assert_eq!(p.key_type, "ed25519");
        assert!(p.fingerprint.starts_with("SHA256:"));
        assert!(parse_public_key("ssh-rsa !!!").is_err());
        assert!(parse_public_key("ssh-dss AAAAB3NzaC1kc3M=").is_err());
    }

    fn ssh_rsa_line(bits: u32) -> String {
        let rsa = openssl::rsa::Rsa::generate(bits).unwrap();
        let mut blob = Vec::new();
        ssh_string(&mut blob, b"ssh-rsa");
        ssh_string(&mut blob, &rsa.e().to_vec());
        // OpenSSH mpints carry a leading zero byte when the top bit is set.
        let mut n = vec![0u8];
        n.extend(rsa.n().to_vec());
        ssh_string(&mut blob, &n);
        format!("ssh-rsa {} test", STANDARD.encode(blob))
    }

    #[test]
    fn rsa_keys_report_their_length() {
        let p = parse_public_key(&ssh_rsa_line(2048)).unwrap();
        assert_eq!((p.key_type, p.length), ("rsa", 2048));
        let err = parse_public_key(&ssh_rsa_line(1024)).err().unwrap();
        assert!(err.contains("1024"), "{err}");
        // An empty modulus is refused, not a panic.
        let mut blob = Vec::new();
        ssh_string(&mut blob, b"ssh-rsa");
        ssh_string(&mut blob, &[1, 0, 1]);
        ssh_string(&mut blob, &[]);
        let line = format!("ssh-rsa {}", STANDARD.encode(blob));
        assert!(parse_public_key(&line).is_err());
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.240.0.0/18").map(|x| x.1), Some(18));
        assert!(parse_cidr("10.240.0.1/18").is_none());
        assert!(parse_cidr("10.240.0.0/31").is_none());
        let s = Subnet {
            seq: 1,
            id: "s".into(),
            crn: String::new(),
            name: "s".into(),
            vpc_id: String::new(),
            zone: "us-south-1".into(),
            ipv4_cidr_block: "10.0.0.0/29".into(),
            created_at: 0,
            next_host: 4,
        };
        assert_eq!(subnet_address(&s, 4).as_deref(), Some("10.0.0.4"));
        assert_eq!(subnet_address(&s, 7), None);
        assert!(subnet_contains(&s, "10.0.0.5"));
        assert!(!subnet_contains(&s, "10.0.0.7"));
        assert!(!subnet_contains(&s, "10.0.0.2"));
        let top = Subnet {
            ipv4_cidr_block: "255.255.255.248/29".into(),
            ..s.clone()
        };
        assert!(subnet_contains(&top, "255.255.255.253"));
        assert!(!subnet_contains(&top, "255.255.255.255"));
    }
}
