//! `hyperprotect_instance`'s plan-time checks against the region's catalog (the shared
//! cache in [`Catalog`]): profile and image exist and match (Secure Execution needs a Hyper
//! Protect image and the reverse), the confidential compute mode is one the profile offers,
//! the zone is in the provider's region and the subnet in that zone and VPC.

use crate::cloud::models::{ConfidentialComputeMode, InstanceProfile};
use crate::cloud::{self, Client};
use crate::provider_data::catalog::{is_hyper_protect, Catalog};
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::value::Known;

use super::schema::InstanceModel;

/// What the plan checks found.
#[derive(Default)]
pub struct Checks {
    pub diagnostics: Diagnostics,
    /// Whether the planned profile is a Secure Execution one, when known.
    pub secure_execution: Option<bool>,
}

/// The checks that need the catalog, each done only when its inputs are known.
pub async fn check_plan(catalog: &Catalog, client: &Client, config: &InstanceModel) -> Checks {
    let mut out = Checks::default();
    let known = |value: &Known<String>| value.as_deref().value().map(str::to_string);
    let diags = &mut out.diagnostics;
    let lookup_failed = |diags: &mut Diagnostics, attr: &str, e: cloud::Error| {
        diags.warning_at(
            AttrPath::attr(attr),
            format!("Cannot check {attr} now"),
            format!("The plan-time check of {attr} could not read the VPC API: {e}"),
        );
    };

    let profile = match known(&config.profile) {
        None => None,
        Some(name) => match catalog.lookup_profile(client, &name).await {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                diags.error_at(
                    AttrPath::attr("profile"),
                    "Unknown instance profile",
                    format!(
                        "Profile {name:?} does not exist in region {}.",
                        client.region()
                    ),
                );
                None
            }
            Err(e) => {
                lookup_failed(diags, "profile", e);
                None
            }
        },
    };
    out.secure_execution = profile.as_ref().map(InstanceProfile::secure_execution);

    let image = match known(&config.image) {
        None => None,
        Some(id) => match catalog.lookup_image(client, &id).await {
            Ok(Some(i)) => Some(i),
            Ok(None) => {
                diags.error_at(
                    AttrPath::attr("image"),
                    "Unknown image",
                    format!("Image {id:?} does not exist in region {}.", client.region()),
                );
                None
            }
            Err(e) => {
                lookup_failed(diags, "image", e);
                None
            }
        },
    };

    if let (Some(p), Some(i)) = (&profile, &image) {
        let (hp, se) = (is_hyper_protect(i), p.secure_execution());
        if hp && !se {
            diags.error_at(
                AttrPath::attr("profile"),
                "Hyper Protect image needs a Secure Execution profile",
                format!(
                    "Image {:?} is a Hyper Protect (IBM Secure Execution) image; it only \
                     starts on a Secure Execution profile (`bz2e-*`, `cz2e-*`, `mz2e-*`), \
                     not on {:?}.",
                    i.name, p.name
                ),
            );
        } else if se && !hp {
            diags.error_at(
                AttrPath::attr("image"),
                "Secure Execution profile needs a Hyper Protect image",
                format!(
                    "Profile {:?} is an IBM Secure Execution profile; it only starts a \
                     Hyper Protect image (`ibm-hyper-protect-container-runtime-*`), not {:?}.",
                    p.name, i.name
                ),
            );
        }
    }

    if let (Some(p), Some(mode)) = (&profile, known(&config.confidential_compute_mode)) {
        let supported = p.confidential_compute_modes();
        let ok = if supported.is_empty() {
            mode == "disabled"
        } else {
            supported.contains(&ConfidentialComputeMode::from(mode.as_str()))
        };
        if !ok {
            let list = if supported.is_empty() {
                "only `disabled`".to_string()
            } else {
                supported
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            diags.error_at(
                AttrPath::attr("confidential_compute_mode"),
                "Confidential compute mode not supported by the profile",
                format!(
                    "Profile {:?} does not support confidential_compute_mode {mode:?}; it \
                     supports {list}.",
                    p.name
                ),
            );
        }
    }

    let zone = known(&config.zone);
    if let Some(z) = &zone {
        let region = client.region().to_string();
        match catalog.lookup_zones(client).await {
            Ok(zones) if zones.iter().flatten().any(|zone| zone.name == *z) => {}
            Ok(zones) => diags.error_at(
                AttrPath::attr("zone"),
                "Zone not in the provider's region",
                format!(
                    "Zone {z:?} is not a zone of region {region:?} (the provider's \
                     `region`); its zones are {}.",
                    zones
                        .iter()
                        .flatten()
                        .map(|zone| format!("`{}`", zone.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Err(e) => lookup_failed(diags, "zone", e),
        }
    }

    if let Some(id) = known(&config.subnet) {
        match catalog.lookup_subnet(client, &id).await {
            Ok(Some(s)) => {
                let subnet_zone = s.zone.as_ref().map(|z| z.name.as_str());
                if let (Some(z), Some(sz)) = (&zone, subnet_zone) {
                    if z != sz {
                        diags.error_at(
                            AttrPath::attr("subnet"),
                            "Subnet not in the instance's zone",
                            format!(
                                "Subnet {:?} ({id}) is in zone {sz:?}, not in zone {z:?}.",
                                s.name
                            ),
                        );
                    }
                }
                let subnet_vpc = s.vpc.as_ref().map(|v| v.id.as_str());
                if let (Some(v), Some(sv)) = (known(&config.vpc), subnet_vpc) {
                    if v != sv {
                        diags.error_at(
                            AttrPath::attr("vpc"),
                            "Subnet not in this VPC",
                            format!("Subnet {:?} ({id}) belongs to VPC {sv}, not {v}.", s.name),
                        );
                    }
                }
            }
            Ok(None) => diags.error_at(
                AttrPath::attr("subnet"),
                "Unknown subnet",
                format!(
                    "Subnet {id:?} does not exist in region {}.",
                    client.region()
                ),
            ),
            Err(e) => lookup_failed(diags, "subnet", e),
        }
    }
    out
}
