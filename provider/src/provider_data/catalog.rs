//! The region's catalog (profiles, images, zones, subnets) as the instance resource and the
//! list resource look at it, with a per-process cache so fifty instances on one profile cost
//! one lookup, not fifty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::cloud::models::{Image, InstanceProfile, Subnet, Zone};
use crate::cloud::{self, Client};
use crate::contract::image::is_hpcr_os;

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

    /// A profile by name (`None`: it does not exist).
    pub async fn lookup_profile(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<InstanceProfile>, cloud::Error> {
        self.profiles
            .get(name, || client.get_instance_profile(name))
            .await
    }

    /// An image by id (`None`: it does not exist).
    pub async fn lookup_image(
        &self,
        client: &Client,
        id: &str,
    ) -> Result<Option<Image>, cloud::Error> {
        self.images.get(id, || client.get_image(id)).await
    }

    /// The zones of the client's region.
    pub async fn lookup_zones(&self, client: &Client) -> Result<Option<Vec<Zone>>, cloud::Error> {
        let region = client.region().to_string();
        self.zones
            .get(&region, || client.list_zones(Some(&region)))
            .await
    }

    /// A subnet by id (`None`: it does not exist).
    pub async fn lookup_subnet(
        &self,
        client: &Client,
        id: &str,
    ) -> Result<Option<Subnet>, cloud::Error> {
        self.subnets.get(id, || client.get_subnet(id)).await
    }
}
