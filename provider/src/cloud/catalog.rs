//! Read-only look-ups: regions, zones, instance profiles, images, VPCs and subnets.

use super::client::{take_items, Client};
use super::error::Error;
use super::models::{Image, InstanceProfile, Region, Subnet, Vpc, Zone};

impl Client {
    /// `GET /regions`.
    pub async fn list_regions(&self) -> Result<Vec<Region>, Error> {
        let mut page: serde_json::Value = self.get_json("/regions", &[]).await?;
        take_items(&mut page, "regions", "GET /regions")
    }

    /// `GET /regions/{region}/zones` (the configured region when `region` is `None`).
    pub async fn list_zones(&self, region: Option<&str>) -> Result<Vec<Zone>, Error> {
        let path = format!("/regions/{}/zones", region.unwrap_or(self.region()));
        let mut page: serde_json::Value = self.get_json(&path, &[]).await?;
        take_items(&mut page, "zones", &format!("GET {path}"))
    }

    /// `GET /instance/profiles` (not paginated).
    pub async fn list_instance_profiles(&self) -> Result<Vec<InstanceProfile>, Error> {
        let mut page: serde_json::Value = self.get_json("/instance/profiles", &[]).await?;
        take_items(&mut page, "profiles", "GET /instance/profiles")
    }

    /// `GET /instance/profiles/{name}`.
    pub async fn get_instance_profile(&self, name: &str) -> Result<InstanceProfile, Error> {
        self.get_json(&format!("/instance/profiles/{name}"), &[])
            .await
    }

    /// Every image matching the server-side filters (`visibility`, `status`, `name`, …),
    /// all pages.
    pub async fn list_images(&self, filters: &[(&str, &str)]) -> Result<Vec<Image>, Error> {
        self.list_all("/images", "images", filters).await
    }

    /// Like [`Client::list_images`], as the raw JSON objects (for `contract::image`, which
    /// selects from the API's own shape).
    pub async fn list_images_json(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Value>, Error> {
        self.list_all("/images", "images", filters).await
    }

    /// `GET /images/{id}`.
    pub async fn get_image(&self, id: &str) -> Result<Image, Error> {
        self.get_json(&format!("/images/{id}"), &[]).await
    }

    /// Every VPC, all pages.
    pub async fn list_vpcs(&self) -> Result<Vec<Vpc>, Error> {
        self.list_all("/vpcs", "vpcs", &[]).await
    }

    /// `GET /vpcs/{id}`.
    pub async fn get_vpc(&self, id: &str) -> Result<Vpc, Error> {
        self.get_json(&format!("/vpcs/{id}"), &[]).await
    }

    /// Every subnet (optionally of one VPC: `vpc.id` filter), all pages.
    pub async fn list_subnets(&self, vpc_id: Option<&str>) -> Result<Vec<Subnet>, Error> {
        let filters: Vec<(&str, &str)> = vpc_id.map(|v| ("vpc.id", v)).into_iter().collect();
        self.list_all("/subnets", "subnets", &filters).await
    }

    /// `GET /subnets/{id}`.
    pub async fn get_subnet(&self, id: &str) -> Result<Subnet, Error> {
        self.get_json(&format!("/subnets/{id}"), &[]).await
    }
}
