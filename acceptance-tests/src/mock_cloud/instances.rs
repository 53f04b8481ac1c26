//! `/v1/instances`: create (InstancePrototype), get, list, PATCH (merge-patch), DELETE,
//! actions and initialization, with the status rules of the VPC API (fact sheet §5–§7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::catalog::{self, Profile};
use super::error::ApiError;
use super::http::{page_params, paginate, parse_body, BodyKind, Params};
use super::ids;
use super::lifecycle;
use super::state::{Instance, MetadataService, Nic, NicKind, State as St, Status, Volume};
use super::vpc::{self, Ref};
use super::App;

/// The documented `user_data` limit ("64 K bytes").
pub const USER_DATA_MAX: usize = 65_536;

// ---------------------------------------------------------------- rendering

fn href(base: &str, id: &str) -> String {
    format!("{base}/v1/instances/{id}")
}

fn volume_attachment_json(base: &str, inst: &Instance, v: &Volume) -> Value {
    json!({
        "id": v.attachment_id,
        "href": format!("{}/volume_attachments/{}", href(base, &inst.id), v.attachment_id),
        "name": v.attachment_name,
        "device": {"id": format!("{}-{}", v.attachment_id, "dev")},
        "volume": {
            "id": v.id,
            "crn": ids::crn("volume", Some(&inst.zone), &v.id),
            "href": format!("{base}/v1/volumes/{}", v.id),
            "name": v.name,
            "resource_type": "volume",
        },
    })
}

/// The Instance resource as `GET /instances/{id}` returns it at `now`. Never includes
/// `user_data` or `keys` (those are not returned by the real API either).
pub fn render(base: &str, st: &St, inst: &Instance, now: i64) -> Value {
    let status = inst.status_at(now);
    let step = inst.step_at(now);
    let reasons: Vec<Value> = step
        .map(|s| {
            s.reasons
                .iter()
                .map(|r| json!({"code": r.code, "message": r.message, "more_info": "https://cloud.ibm.com/docs/vpc?topic=vpc-instance-status-messages"}))
                .collect()
        })
        .unwrap_or_default();
    let profile = catalog::profile(&inst.profile);
    let image = catalog::image(&inst.image_id);
    let subnet = st.subnet(&inst.primary_nic.subnet_id);
    let subnet_json = subnet
        .map(|s| vpc::subnet_ref(base, s))
        .unwrap_or_else(|| vpc::deleted_ref(base, "subnets", &inst.primary_nic.subnet_id));
    let vpc_json = st
        .vpc(&inst.vpc_id)
        .map(|v| vpc::vpc_ref(base, v))
        .unwrap_or_else(|| vpc::deleted_ref(base, "vpcs", &inst.vpc_id));
    let lifecycle_state = match status {
        Status::Pending => "pending",
        Status::Failed => "failed",
        Status::Deleting | Status::Gone => "deleting",
        _ => "stable",
    };
    let health_state = match status {
        Status::Running | Status::Starting | Status::Restarting | Status::Stopping => "ok",
        _ => "inapplicable",
    };
    let primary_ip = json!({
        "address": inst.primary_nic.address,
        "href": format!("{base}/v1/subnets/{}/reserved_ips/{}-ip", inst.primary_nic.subnet_id, inst.primary_nic.id),
        "id": format!("{}-ip", inst.primary_nic.id),
        "name": format!("{}-ip", inst.primary_nic.name),
        "resource_type": "subnet_reserved_ip",
    });
    let mut v = json!({
        "id": inst.id,
        "crn": inst.crn,
        "href": href(base, &inst.id),
        "name": inst.name,
        "created_at": ids::rfc3339(inst.created_at),
        "resource_type": "instance",
        "resource_group": catalog::resource_group_ref(base),
        "profile": {"name": inst.profile, "href": format!("{base}/v1/instance/profiles/{}", inst.profile), "resource_type": "instance_profile"},
        "vcpu": {
            "architecture": profile.map_or("amd64", |p| p.arch),
            "count": profile.map_or(0, |p| p.vcpu),
            "manufacturer": profile.map_or("unassigned", |p| p.manufacturer),
            "percentage": 100,
        },
        "memory": profile.map_or(0, |p| p.memory_gib),
        "bandwidth": profile.map_or(0, |p| p.bandwidth_mbps),
        "total_network_bandwidth": profile.map_or(0, |p| p.bandwidth_mbps * 3 / 4),
        "total_volume_bandwidth": profile.map_or(0, |p| p.bandwidth_mbps / 4),
        "volume_bandwidth_qos_mode": if profile.is_some_and(|p| p.secure_execution) { "weighted" } else { "pooled" },
        "gpu": null,
        "image": image.map(|i| i.reference(base)).unwrap_or_else(|| vpc::deleted_ref(base, "images", &inst.image_id)),
        "boot_volume_attachment": volume_attachment_json(base, inst, &inst.boot_volume),
        "volume_attachments": std::iter::once(&inst.boot_volume).chain(&inst.data_volumes).map(|v| volume_attachment_json(base, inst, v)).collect::<Vec<_>>(),
        "disks": [],
        "vpc": vpc_json,
        "zone": catalog::zone_ref(base, &inst.zone),
        "availability": {"class": "standard"},
        "availability_policy": {"host_failure": "restart", "preemption": "stop"},
        "confidential_compute_mode": inst.confidential_compute_mode,
        "enable_secure_boot": inst.enable_secure_boot,
        "metadata_service": {
            "enabled": inst.metadata_service.enabled,
            "protocol": inst.metadata_service.protocol,
            "response_hop_limit": inst.metadata_service.response_hop_limit,
        },
        "status": status.as_str(),
        "status_reasons": reasons,
        "lifecycle_state": lifecycle_state,
        "lifecycle_reasons": [],
        "health_state": health_state,
        "health_reasons": [],
        "startable": matches!(status, Status::Stopped | Status::Stopping | Status::Failed),
    });
    if status == Status::Running {
        v["numa_count"] = json!(1);
    }
    match inst.nic_kind {
        NicKind::Interface => {
            let nic = json!({
                "id": inst.primary_nic.id,
                "href": format!("{}/network_interfaces/{}", href(base, &inst.id), inst.primary_nic.id),
                "name": inst.primary_nic.name,
                "primary_ip": primary_ip,
                "resource_type": "network_interface",
                "subnet": subnet_json,
            });
            v["primary_network_interface"] = nic.clone();
            v["network_interfaces"] = json!([nic]);
            v["network_attachments"] = json!([]);
        }
        NicKind::Attachment => {
            let att = json!({
                "id": inst.primary_nic.id,
                "href": format!("{}/network_attachments/{}", href(base, &inst.id), inst.primary_nic.id),
                "name": inst.primary_nic.name,
                "primary_ip": primary_ip,
                "resource_type": "instance_network_attachment",
                "subnet": subnet_json,
                "virtual_network_interface": {
                    "id": inst.primary_nic.vni_id,
                    "href": format!("{base}/v1/virtual_network_interfaces/{}", inst.primary_nic.vni_id.as_deref().unwrap_or("")),
                    "name": format!("{}-vni", inst.primary_nic.name),
                    "resource_type": "virtual_network_interface",
                },
            });
            v["primary_network_attachment"] = att.clone();
            v["network_attachments"] = json!([att]);
            v["network_interfaces"] = json!([]);
        }
    }
    v
}

fn with_etag(inst_etag: String, body: Value, status: StatusCode) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&inst_etag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

// ---------------------------------------------------------------- list / get

pub async fn list(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&params)?;
    let now = ids::now_ms();
    let st = app.store.read();
    let name = params.get("name");
    let vpc_id = params.get("vpc.id");
    let vpc_crn = params.get("vpc.crn");
    let vpc_name = params.get("vpc.name");
    let rg = params.get("resource_group.id");
    let vpc_by_id = |id: &str| st.vpc(id);
    let items = st
        .instances
        .values()
        .filter(|i| i.status_at(now) != Status::Gone)
        .filter(|i| name.is_none_or(|n| *n == i.name))
        .filter(|i| vpc_id.is_none_or(|v| *v == i.vpc_id))
        .filter(|i| vpc_crn.is_none_or(|c| vpc_by_id(&i.vpc_id).is_some_and(|v| v.crn == *c)))
        .filter(|i| vpc_name.is_none_or(|n| vpc_by_id(&i.vpc_id).is_some_and(|v| v.name == *n)))
        .filter(|_| rg.is_none_or(|r| r == catalog::DEFAULT_RESOURCE_GROUP_ID))
        .map(|i| (i.seq, render(&app.base, &st, i, now)))
        .collect();
    let mut filters: Vec<(&str, &str)> = Vec::new();
    for k in ["name", "vpc.id", "vpc.crn", "vpc.name", "resource_group.id"] {
        if let Some(v) = params.get(k) {
            filters.push((k, v));
        }
    }
    Ok(Json(paginate(
        &app.base,
        "/v1/instances",
        "instances",
        items,
        &page,
        &filters,
    )))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("Instance", id)
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = ids::now_ms();
    let st = app.store.read();
    let inst = st.instance(&id, now).ok_or_else(|| not_found(&id))?;
    Ok(with_etag(
        inst.etag(),
        render(&app.base, &st, inst, now),
        StatusCode::OK,
    ))
}

pub async fn initialization(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = ids::now_ms();
    let st = app.store.read();
    let inst = st.instance(&id, now).ok_or_else(|| not_found(&id))?;
    let keys: Vec<Value> = inst
        .key_ids
        .iter()
        .map(|k| {
            st.key(k)
                .map(|k| vpc::key_ref(&app.base, k))
                .unwrap_or_else(|| vpc::deleted_ref(&app.base, "keys", k))
        })
        .collect();
    Ok(Json(json!({"keys": keys})))
}

// ---------------------------------------------------------------- create

#[derive(Deserialize)]
struct NicPrototype {
    name: Option<String>,
    subnet: Option<Ref>,
    primary_ip: Option<PrimaryIp>,
    #[serde(rename = "security_groups")]
    _security_groups: Option<Vec<Ref>>,
    #[serde(rename = "allow_ip_spoofing")]
    _allow_ip_spoofing: Option<bool>,
}

#[derive(Deserialize)]
struct PrimaryIp {
    address: Option<String>,
}

#[derive(Deserialize)]
struct VniPrototype {
    subnet: Option<Ref>,
    primary_ip: Option<PrimaryIp>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct AttachmentPrototype {
    name: Option<String>,
    virtual_network_interface: Option<VniPrototype>,
}

#[derive(Deserialize)]
struct VolumePrototype {
    name: Option<String>,
    capacity: Option<u32>,
    profile: Option<Ref>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct VolumeAttachmentPrototype {
    name: Option<String>,
    delete_volume_on_instance_delete: Option<bool>,
    volume: Option<VolumePrototype>,
}

#[derive(Deserialize)]
struct MetadataServicePrototype {
    enabled: Option<bool>,
    protocol: Option<String>,
    response_hop_limit: Option<u32>,
}

#[derive(Deserialize)]
struct InstancePrototype {
    name: Option<String>,
    profile: Option<Ref>,
    image: Option<Ref>,
    zone: Option<Ref>,
    vpc: Option<Ref>,
    primary_network_interface: Option<NicPrototype>,
    primary_network_attachment: Option<AttachmentPrototype>,
    keys: Option<Vec<Ref>>,
    user_data: Option<String>,
    boot_volume_attachment: Option<VolumeAttachmentPrototype>,
    volume_attachments: Option<Vec<VolumeAttachmentPrototype>>,
    resource_group: Option<Ref>,
    confidential_compute_mode: Option<String>,
    enable_secure_boot: Option<bool>,
    metadata_service: Option<MetadataServicePrototype>,
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request("missing_field", format!("{field} is required")).field(field)
}

fn check_hostname(name: &str) -> Result<(), ApiError> {
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
            "instance_invalid_hostname",
            format!("name `{name}` is not a valid hostname: it must match ^([a-z]|[a-z][-a-z0-9]*[a-z0-9])$ and be 1-63 characters"),
        )
        .field("name"))
    }
}

fn check_cc_mode(profile: &Profile, mode: &str) -> Result<(), ApiError> {
    if !["disabled", "sgx", "tdx"].contains(&mode) {
        return Err(ApiError::bad_request(
            "validation_enum",
            format!("confidential_compute_mode `{mode}` must be one of disabled, sgx, tdx"),
        )
        .field("confidential_compute_mode"));
    }
    if !profile.supports_cc_mode(mode) {
        let supported = if profile.cc_modes.is_empty() {
            "disabled".to_string()
        } else {
            profile.cc_modes.join(", ")
        };
        return Err(ApiError::bad_request(
            "validation_failure",
            format!(
                "confidential_compute_mode `{mode}` is not supported by profile `{}` (supported: {supported})",
                profile.name
            ),
        )
        .field("confidential_compute_mode"));
    }
    Ok(())
}

fn check_secure_boot(profile: &Profile, on: bool) -> Result<(), ApiError> {
    if profile.secure_boot_values.contains(&on) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "validation_failure",
            format!(
                "enable_secure_boot {on} is not supported by profile `{}`",
                profile.name
            ),
        )
        .field("enable_secure_boot"))
    }
}

fn resolve_profile(r: &Ref, field: &str) -> Result<&'static Profile, ApiError> {
    let name = r
        .name
        .clone()
        .or_else(|| {
            r.href
                .as_ref()
                .and_then(|h| h.rsplit('/').next().map(str::to_string))
        })
        .ok_or_else(|| missing(&format!("{field}.name")))?;
    catalog::profile(&name)
        .ok_or_else(|| ApiError::not_found("Instance profile", &name).field(field))
}

fn metadata_service(m: Option<MetadataServicePrototype>) -> Result<MetadataService, ApiError> {
    let m = m.unwrap_or(MetadataServicePrototype {
        enabled: None,
        protocol: None,
        response_hop_limit: None,
    });
    let protocol = m.protocol.unwrap_or_else(|| "http".into());
    if protocol != "http" && protocol != "https" {
        return Err(ApiError::bad_request(
            "validation_enum",
            format!("metadata_service.protocol `{protocol}` must be http or https"),
        )
        .field("metadata_service.protocol"));
    }
    let hops = m.response_hop_limit.unwrap_or(1);
    if !(1..=64).contains(&hops) {
        return Err(ApiError::bad_request(
            "validation_failure",
            format!("metadata_service.response_hop_limit {hops} must be from 1 to 64"),
        )
        .field("metadata_service.response_hop_limit"));
    }
    Ok(MetadataService {
        enabled: m.enabled.unwrap_or(false),
        protocol,
        response_hop_limit: hops,
    })
}

fn new_volume(
    zone: &str,
    att: Option<VolumeAttachmentPrototype>,
    min_capacity: u32,
    field: &str,
) -> Result<Volume, ApiError> {
    let att = att.unwrap_or(VolumeAttachmentPrototype {
        name: None,
        delete_volume_on_instance_delete: None,
        volume: None,
    });
    let vol = att.volume.unwrap_or(VolumePrototype {
        name: None,
        capacity: None,
        profile: None,
        id: None,
    });
    if let Some(id) = vol.id {
        // The mock has no /volumes collection, so no existing volume can be attached.
        return Err(ApiError::not_found("Volume", &id).field(&format!("{field}.volume.id")));
    }
    let capacity = vol.capacity.unwrap_or(min_capacity.max(10));
    if capacity < min_capacity || capacity > 16_000 {
        return Err(ApiError::bad_request(
            "validation_failure",
            format!("{field}.volume.capacity {capacity} must be from {min_capacity} to 16000 GB"),
        )
        .field(&format!("{field}.volume.capacity")));
    }
    let profile = vol
        .profile
        .and_then(|p| p.name)
        .unwrap_or_else(|| "general-purpose".into());
    if ![
        "general-purpose",
        "5iops-tier",
        "10iops-tier",
        "custom",
        "sdp",
    ]
    .contains(&profile.as_str())
    {
        return Err(ApiError::not_found("Volume profile", &profile)
            .field(&format!("{field}.volume.profile")));
    }
    Ok(Volume {
        attachment_id: ids::zonal_id(zone),
        attachment_name: att.name.unwrap_or_else(ids::random_name),
        id: ids::zonal_id(zone),
        name: vol.name.unwrap_or_else(ids::random_name),
        capacity_gb: capacity,
        profile,
        delete_on_instance_delete: att.delete_volume_on_instance_delete.unwrap_or(true),
    })
}

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p: InstancePrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let name = match p.name {
        Some(n) => n,
        None => format!("mock-{}", &ids::uuid()[..8]),
    };
    check_hostname(&name)?;
    let profile = resolve_profile(
        p.profile.as_ref().ok_or_else(|| missing("profile"))?,
        "profile",
    )?;
    let image_ref = p.image.ok_or_else(|| missing("image"))?;
    let image = catalog::IMAGES
        .iter()
        .find(|i| image_ref.matches(i.id, &i.crn(), i.name))
        .ok_or_else(|| ApiError::not_found("Image", &image_ref.describe()).field("image"))?;
    let zone = p
        .zone
        .as_ref()
        .and_then(|z| z.name.clone())
        .ok_or_else(|| missing("zone.name"))?;
    if !catalog::ZONES.contains(&zone.as_str()) {
        return Err(ApiError::not_found("Zone", &zone).field("zone"));
    }
    let (nic_kind, nic_name, subnet_ref, address) = match (
        p.primary_network_interface,
        p.primary_network_attachment,
    ) {
        (Some(nic), None) => (
            NicKind::Interface,
            nic.name.unwrap_or_else(|| "eth0".into()),
            nic.subnet
                .ok_or_else(|| missing("primary_network_interface.subnet"))?,
            nic.primary_ip.and_then(|ip| ip.address),
        ),
        (None, Some(att)) => {
            let vni = att
                .virtual_network_interface
                .ok_or_else(|| missing("primary_network_attachment.virtual_network_interface"))?;
            (
                NicKind::Attachment,
                att.name.or(vni.name).unwrap_or_else(|| "eth0".into()),
                vni.subnet.ok_or_else(|| {
                    missing("primary_network_attachment.virtual_network_interface.subnet")
                })?,
                vni.primary_ip.and_then(|ip| ip.address),
            )
        }
        (Some(_), Some(_)) | (None, None) => return Err(ApiError::bad_request(
            "validation_failure",
            "exactly one of primary_network_interface or primary_network_attachment is required",
        )
        .field("primary_network_interface")),
    };
    if let Some(ud) = &p.user_data {
        if ud.len() > USER_DATA_MAX {
            return Err(ApiError::bad_request(
                "validation_failure",
                format!(
                    "user_data is {} bytes; the limit is {USER_DATA_MAX} bytes",
                    ud.len()
                ),
            )
            .field("user_data"));
        }
    }
    if let Some(rg) = &p.resource_group {
        if !rg.matches(
            catalog::DEFAULT_RESOURCE_GROUP_ID,
            "",
            catalog::DEFAULT_RESOURCE_GROUP_NAME,
        ) {
            return Err(
                ApiError::not_found("Resource group", &rg.describe()).field("resource_group")
            );
        }
    }
    // Hyper Protect / Secure Execution mismatches are accepted and fail at start (as the
    // platform does); a plain architecture mismatch is refused up front.
    let secure_execution_involved = image.is_hpcr() || profile.secure_execution;
    if !secure_execution_involved && image.os().arch != profile.arch {
        return Err(ApiError::bad_request(
            "validation_failure",
            format!(
                "image `{}` is {} and cannot run on profile `{}` ({})",
                image.name,
                image.os().arch,
                profile.name,
                profile.arch
            ),
        )
        .field("image"));
    }
    if image.status != "available" && image.status != "deprecated" {
        return Err(ApiError::bad_request(
            "validation_failure",
            format!(
                "image `{}` is {} and cannot be provisioned",
                image.name, image.status
            ),
        )
        .field("image"));
    }
    let cc_mode = p
        .confidential_compute_mode
        .unwrap_or_else(|| profile.default_cc_mode().to_string());
    check_cc_mode(profile, &cc_mode)?;
    let secure_boot = p.enable_secure_boot.unwrap_or(profile.secure_boot_default);
    check_secure_boot(profile, secure_boot)?;
    let metadata = metadata_service(p.metadata_service)?;
    // IBM names an unnamed boot volume with random words, not `<instance>-boot` (see
    // `ids::random_name`); a client that wants that name sends it.
    let boot_volume = new_volume(
        &zone,
        p.boot_volume_attachment,
        image.minimum_provisioned_size,
        "boot_volume_attachment",
    )?;
    let mut data_volumes = Vec::new();
    for (i, v) in p
        .volume_attachments
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        data_volumes.push(new_volume(
            &zone,
            Some(v),
            10,
            &format!("volume_attachments[{i}]"),
        )?);
    }
    let key_refs = p.keys.unwrap_or_default();
    let vpc_ref_in = p.vpc;

    let now = ids::now_ms();
    // Evaluate a Hyper Protect guest boot (RSA decryption, signing) before taking the state
    // lock and off the async workers, so concurrent creates do not stall every reader.
    let running_at = lifecycle::create_running_at(now, &app.delays);
    let precomputed = if image.is_hpcr() && profile.secure_execution && app.pki.is_some() {
        let app2 = app.clone();
        let ud = p.user_data.clone();
        tokio::task::spawn_blocking(move || {
            app2.pki
                .as_ref()
                .map(|pki| lifecycle::boot_guest(ud.as_deref(), pki, running_at))
        })
        .await
        .map_err(|e| ApiError::internal(format!("guest boot task failed: {e}")))?
    } else {
        None
    };
    let (etag, body) = app
        .store
        .update(now, |st| {
            if st
                .instances
                .values()
                .any(|i| i.name == name && i.status_at(now) != Status::Gone)
            {
                return Err(ApiError::name_not_unique(&name));
            }
            let subnet = st
                .subnets
                .values()
                .find(|s| subnet_ref.matches(&s.id, &s.crn, &s.name))
                .ok_or_else(|| {
                    ApiError::not_found("Subnet", &subnet_ref.describe()).field("subnet")
                })?
                .clone();
            if subnet.zone != zone {
                return Err(ApiError::bad_request(
                    "validation_failure",
                    format!(
                        "subnet {} is in zone {}, not in the instance zone {zone}",
                        subnet.id, subnet.zone
                    ),
                )
                .field("zone"));
            }
            if let Some(r) = &vpc_ref_in {
                let vpc = st
                    .vpcs
                    .values()
                    .find(|v| r.matches(&v.id, &v.crn, &v.name))
                    .ok_or_else(|| ApiError::not_found("VPC", &r.describe()).field("vpc"))?;
                if vpc.id != subnet.vpc_id {
                    return Err(ApiError::bad_request(
                        "validation_failure",
                        format!(
                            "vpc {} does not match the VPC {} of subnet {}",
                            vpc.id, subnet.vpc_id, subnet.id
                        ),
                    )
                    .field("vpc"));
                }
            }
            let mut key_ids = Vec::new();
            for (i, k) in key_refs.iter().enumerate() {
                let key = st
                    .keys
                    .values()
                    .find(|key| k.matches(&key.id, &key.crn, &key.name))
                    .ok_or_else(|| {
                        ApiError::not_found("Key", &k.describe()).field(&format!("keys[{i}]"))
                    })?;
                key_ids.push(key.id.clone());
            }
            let address = match &address {
                Some(a) => {
                    let taken = st.instances.values().any(|i| {
                        i.primary_nic.address == *a && i.primary_nic.subnet_id == subnet.id
                    });
                    if !vpc::subnet_contains(&subnet, a) || taken {
                        return Err(ApiError::bad_request(
                            "validation_failure",
                            format!(
                                "primary_ip.address {a} is not a free address of subnet {} ({})",
                                subnet.id, subnet.ipv4_cidr_block
                            ),
                        )
                        .field("primary_ip.address"));
                    }
                    a.clone()
                }
                None => {
                    let mut n = subnet.next_host;
                    loop {
                        let candidate = vpc::subnet_address(&subnet, n).ok_or_else(|| {
                            ApiError::new(
                                StatusCode::CONFLICT,
                                "subnet_ip_exhausted",
                                format!("subnet {} has no free address", subnet.id),
                            )
                        })?;
                        n += 1;
                        if !st
                            .instances
                            .values()
                            .any(|i| i.primary_nic.address == candidate)
                        {
                            if let Some(s) = st.subnets.get_mut(&subnet.seq) {
                                s.next_host = n;
                            }
                            break candidate;
                        }
                    }
                }
            };
            let fault = app.faults().take_create_fault();
            let id = ids::zonal_id(&zone);
            let seq = st.take_seq();
            let mut inst = Instance {
                seq,
                crn: ids::crn("instance", Some(&zone), &id),
                id,
                name: name.clone(),
                created_at: now,
                profile: profile.name.to_string(),
                image_id: image.id.to_string(),
                zone: zone.clone(),
                vpc_id: subnet.vpc_id.clone(),
                nic_kind,
                primary_nic: Nic {
                    id: ids::zonal_id(&zone),
                    name: nic_name.clone(),
                    subnet_id: subnet.id.clone(),
                    address,
                    vni_id: (nic_kind == NicKind::Attachment).then(|| ids::zonal_id(&zone)),
                },
                key_ids,
                user_data: p.user_data.clone(),
                boot_volume: boot_volume.clone(),
                data_volumes: data_volumes.clone(),
                confidential_compute_mode: cc_mode.clone(),
                enable_secure_boot: secure_boot,
                metadata_service: metadata.clone(),
                revision: 1,
                timeline: vec![],
                boots: vec![],
            };
            let guest = lifecycle::Guest {
                pki: app.pki.as_ref(),
                ready: precomputed.as_ref().map(|r| (running_at, r)),
            };
            lifecycle::on_create(&mut inst, now, &app.delays, fault, guest);
            let body = render(&app.base, st, &inst, now);
            let etag = inst.etag();
            st.instances.insert(seq, inst);
            Ok((etag, body))
        })
        .await?;
    let mut resp = with_etag(etag, body.clone(), StatusCode::CREATED);
    if let Some(Ok(loc)) = body["href"].as_str().map(HeaderValue::from_str) {
        resp.headers_mut().insert("location", loc);
    }
    Ok(resp)
}

// ---------------------------------------------------------------- update / delete

fn check_if_match(headers: &HeaderMap, inst: &Instance) -> Result<(), ApiError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("");
    let current = inst.etag();
    let matches = v
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == current);
    if matches {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("If-Match `{v}` does not match the current ETag `{current}`"),
        )
        .header("If-Match"))
    }
}

/// PATCH fields the real API has but the mock does not emulate (refused rather than
/// silently ignored, so a client relying on them notices).
const NOT_EMULATED: [&str; 8] = [
    "availability",
    "availability_policy",
    "placement_target",
    "reservation_affinity",
    "total_volume_bandwidth",
    "vcpu",
    "volume_bandwidth_qos_mode",
    "threads_per_core",
];

pub async fn update(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch: Map<String, Value> = parse_body(&headers, &body, BodyKind::MergePatch)?;
    for k in patch.keys() {
        let known = [
            "name",
            "profile",
            "confidential_compute_mode",
            "enable_secure_boot",
            "metadata_service",
        ];
        if NOT_EMULATED.contains(&k.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_request_field",
                format!("{k} can be updated in the real API but is not emulated by mock-cloud"),
            )
            .field(k));
        }
        if !known.contains(&k.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_request_field",
                format!("{k} cannot be updated"),
            )
            .field(k));
        }
    }
    let new_name = match patch.get("name") {
        None => None,
        Some(Value::String(s)) => {
            check_hostname(s)?;
            Some(s.clone())
        }
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid_request_field", "name must be a string")
                    .field("name"),
            )
        }
    };
    let new_profile = match patch.get("profile") {
        None => None,
        Some(v) => {
            let r: Ref = serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::bad_request("invalid_request_field", format!("profile: {e}"))
                    .field("profile")
            })?;
            Some(resolve_profile(&r, "profile")?)
        }
    };
    let new_cc = match patch.get("confidential_compute_mode") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request_field",
                "confidential_compute_mode must be a string",
            )
            .field("confidential_compute_mode"))
        }
    };
    let new_sb = match patch.get("enable_secure_boot") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request_field",
                "enable_secure_boot must be a boolean",
            )
            .field("enable_secure_boot"))
        }
    };
    let new_md = match patch.get("metadata_service") {
        None => None,
        Some(v) => {
            let m: MetadataServicePrototype = serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::bad_request("invalid_request_field", format!("metadata_service: {e}"))
                    .field("metadata_service")
            })?;
            Some(m)
        }
    };
    let now = ids::now_ms();
    let (etag, body) = app
        .store
        .update(now, |st| {
            let taken = new_name.as_ref().is_some_and(|n| {
                st.instances
                    .values()
                    .any(|i| i.name == *n && i.id != id && i.status_at(now) != Status::Gone)
            });
            let inst = st.instance(&id, now).ok_or_else(|| not_found(&id))?;
            check_if_match(&headers, inst)?;
            let status = inst.status_at(now);
            if matches!(status, Status::Pending | Status::Deleting) {
                return Err(ApiError::invalid_state(format!(
                    "instance {id} cannot be updated while {}",
                    status.as_str()
                )));
            }
            if taken {
                return Err(ApiError::name_not_unique(new_name.as_deref().unwrap_or("")));
            }
            let needs_stop = new_profile.is_some() || new_cc.is_some() || new_sb.is_some();
            if needs_stop && status != Status::Stopped {
                return Err(ApiError::invalid_state(format!(
                    "profile, confidential_compute_mode and enable_secure_boot can only be changed while the instance is stopped; instance {id} is {}",
                    status.as_str()
                )));
            }
            let current = catalog::profile(&inst.profile)
                .ok_or_else(|| ApiError::internal(format!("instance {id} has an unknown profile")))?;
            let profile = new_profile.unwrap_or(current);
            if profile.arch != current.arch || profile.secure_execution != current.secure_execution {
                return Err(ApiError::bad_request(
                    "validation_failure",
                    format!("profile `{}` is not compatible with the instance's profile `{}` (architecture or Secure Execution differ)", profile.name, current.name),
                )
                .field("profile"));
            }
            let cc = new_cc.clone().unwrap_or_else(|| inst.confidential_compute_mode.clone());
            check_cc_mode(profile, &cc)?;
            let sb = new_sb.unwrap_or(inst.enable_secure_boot);
            check_secure_boot(profile, sb)?;
            let md = match &new_md {
                None => inst.metadata_service.clone(),
                Some(m) => metadata_service(Some(MetadataServicePrototype {
                    enabled: m.enabled.or(Some(inst.metadata_service.enabled)),
                    protocol: m.protocol.clone().or(Some(inst.metadata_service.protocol.clone())),
                    response_hop_limit: m.response_hop_limit.or(Some(inst.metadata_service.response_hop_limit)),
                }))?,
            };
            let inst = st.instance_mut(&id, now).ok_or_else(|| not_found(&id))?;
            if let Some(n) = &new_name {
                inst.name = n.clone();
            }
            inst.profile = profile.name.to_string();
            inst.confidential_compute_mode = cc;
            inst.enable_secure_boot = sb;
            inst.metadata_service = md;
            inst.revision += 1;
            let inst = inst.clone();
            Ok((inst.etag(), render(&app.base, st, &inst, now)))
        })
        .await?;
    Ok(with_etag(etag, body, StatusCode::OK))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let now = ids::now_ms();
    app.store
        .update(now, |st| {
            let inst = st.instance_mut(&id, now).ok_or_else(|| not_found(&id))?;
            check_if_match(&headers, inst)?;
            let status = inst.status_at(now);
            if matches!(
                status,
                Status::Deleting | Status::Pending | Status::Starting | Status::Stopping | Status::Restarting
            ) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "instance_delete_conflict",
                    format!(
                        "cannot delete instance {id} in status {}: it must be running, stopped or failed",
                        status.as_str()
                    ),
                ));
            }
            lifecycle::on_delete(inst, now, &app.delays);
            inst.revision += 1;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- actions

#[derive(Deserialize)]
struct ActionPrototype {
    #[serde(rename = "type")]
    kind: Option<String>,
    force: Option<bool>,
}

pub async fn action(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let a: ActionPrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let kind = a.kind.ok_or_else(|| missing("type"))?;
    if !["start", "stop", "reboot"].contains(&kind.as_str()) {
        return Err(ApiError::bad_request(
            "validation_enum",
            format!("type `{kind}` must be one of start, stop, reboot"),
        )
        .field("type"));
    }
    let force = a.force.unwrap_or(false);
    let now = ids::now_ms();
    let action_id = ids::zonal_id("us-south-1");
    app.store
        .update(now, |st| {
            let inst = st.instance_mut(&id, now).ok_or_else(|| not_found(&id))?;
            let status = inst.status_at(now);
            // Allowed source statuses; everything else is 409 invalid_state (sheet §7).
            let allowed = match kind.as_str() {
                "start" => matches!(status, Status::Stopped | Status::Stopping | Status::Failed),
                "stop" => matches!(
                    status,
                    Status::Running | Status::Starting | Status::Restarting | Status::Pending
                ),
                _ => status == Status::Running,
            };
            if !allowed {
                return Err(ApiError::invalid_state(format!(
                    "An action was requested on a resource which is not supported at the current status: cannot {kind} instance {id} while {}",
                    status.as_str()
                )));
            }
            match kind.as_str() {
                "start" => {
                    if status == Status::Stopping {
                        // Queue behind the stop in progress: start when it completes.
                        let stopped_at = inst
                            .timeline
                            .iter()
                            .find(|s| s.status == Status::Stopped && s.at > now)
                            .map_or(now, |s| s.at);
                        lifecycle::on_start(inst, stopped_at, now, &app.delays, app.pki.as_ref());
                    } else {
                        lifecycle::on_start(inst, now, now, &app.delays, app.pki.as_ref());
                    }
                }
                "stop" => lifecycle::on_stop(inst, now, &app.delays),
                _ => lifecycle::on_reboot(inst, now, &app.delays, app.pki.as_ref()),
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    let body = json!({
        "id": action_id,
        "href": format!("{}/actions/{action_id}", href(&app.base, &id)),
        "type": kind,
        "status": "pending",
        "force": force,
        "created_at": ids::rfc3339(now),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
