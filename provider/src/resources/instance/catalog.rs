//! Plan-time checks of `hyperprotect_instance` against the region's catalog (profiles,
//! images, zones, subnets), with a per-process cache so fifty instances on one profile cost
//! one lookup, not fifty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::cloud::models::{ConfidentialComputeMode, Image, InstanceProfile, Subnet, Zone};
use crate::cloud::{self, Client};
use crate::contract::image::is_hpcr_os;
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::value::Value;

/// One cached lookup: `None` when the object does not exist (404).
type Slot<T> = Arc<OnceCell<Option<T>>>;

/// Lookups of catalog objects by key, each fetched once per process (failures other than
/// "not found" are not cached, so a transient error is retried by the next caller).
struct Cache<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Cache<T> {
    async fn get<F, Fut>(&self, key: &str, fetch: F) -> Result<Option<T>, cloud::Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, cloud::Error>>,
    {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        slot.get_or_try_init(|| async {
            match fetch().await {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .cloned()
    }
}

/// The catalog objects an instance plan looks at.
#[derive(Default)]
pub struct Catalog {
    profiles: Cache<InstanceProfile>,
    images: Cache<Image>,
    /// The zones of a region, by region name.
    zones: Cache<Vec<Zone>>,
    subnets: Cache<Subnet>,
}

/// A Hyper Protect Container Runtime image (its OS is `hyper-protect-*-s390x-hpcr`).
pub fn is_hyper_protect(image: &Image) -> bool {
    image
        .operating_system
        .as_ref()
        .is_some_and(|os| is_hpcr_os(&os.name))
}

/// What the plan checks found.
#[derive(Default)]
pub struct Checks {
    pub diagnostics: Diagnostics,
    /// Whether the planned profile is a Secure Execution one, when known.
    pub secure_execution: Option<bool>,
}

impl Catalog {
    /// The profile, or `None` when it does not exist or cannot be read now.
    pub async fn profile(&self, client: &Client, name: &str) -> Option<InstanceProfile> {
        self.profiles
            .get(name, || client.get_instance_profile(name))
            .await
            .ok()
            .flatten()
    }

    /// The image, or `None` when it does not exist or cannot be read now.
    pub async fn image(&self, client: &Client, id: &str) -> Option<Image> {
        self.images
            .get(id, || client.get_image(id))
            .await
            .ok()
            .flatten()
    }

    /// The checks that need the catalog, each done only when its inputs are known.
    pub async fn check_plan(&self, client: &Client, config: &Value) -> Checks {
        let mut out = Checks::default();
        let known = |name: &str| get(config, name).as_str().map(str::to_string);
        let diags = &mut out.diagnostics;
        let lookup_failed = |diags: &mut Diagnostics, attr: &str, e: cloud::Error| {
            diags.warning_at(
                AttrPath::attr(attr),
                format!("Cannot check {attr} now"),
                format!("The plan-time check of {attr} could not read the VPC API: {e}"),
            );
        };

        let profile = match known("profile") {
            None => None,
            Some(name) => match self
                .profiles
                .get(&name, || client.get_instance_profile(&name))
                .await
            {
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

        let image = match known("image") {
            None => None,
            Some(id) => match self.images.get(&id, || client.get_image(&id)).await {
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

        if let (Some(p), Some(mode)) = (&profile, known("confidential_compute_mode")) {
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

        let zone = known("zone");
        if let Some(z) = &zone {
            let region = client.region().to_string();
            match self
                .zones
                .get(&region, || client.list_zones(Some(&region)))
                .await
            {
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

        if let Some(id) = known("subnet") {
            match self.subnets.get(&id, || client.get_subnet(&id)).await {
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
                    if let (Some(v), Some(sv)) = (known("vpc"), subnet_vpc) {
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
}
