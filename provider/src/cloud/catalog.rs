//! Read-only look-ups: regions, zones, instance profiles, images, VPCs and subnets.

use super::client::{take_items, Client};

/// IBM's end of marketing for Hyper Protect Virtual Servers for VPC: no new servers since.
pub const HPVS_FOR_VPC_END_OF_MARKETING: &str = "2026-02-28";
/// IBM's end of support: remaining HPVS for VPC servers are deleted on this day.
pub const HPVS_FOR_VPC_DELETION: &str = "2027-02-20";

/// The notice for a plan that creates a new server from a Hyper Protect (s390x) image on
/// VPC: IBM closed HPVS for VPC to new servers (IBM's deprecation notice of Hyper Protect
/// Virtual Servers for VPC: end of marketing 2026-02-28, end of support and deletion of the
/// remaining servers 2027-02-20). Existing servers are imported and managed as before; the
/// successors run on premises. `(summary, detail)`.
pub fn hpvs_for_vpc_closed_notice() -> (String, String) {
    (
        "Hyper Protect Virtual Servers for VPC are closed to new servers".into(),
        format!(
            "IBM stopped new Hyper Protect Virtual Server for VPC servers on \
             {HPVS_FOR_VPC_END_OF_MARKETING} and deletes the remaining ones on \
             {HPVS_FOR_VPC_DELETION}, so creating a server from a Hyper Protect s390x image on \
             IBM Cloud VPC is expected to be refused. Servers that already exist can still be \
             imported (`terraform import`) and managed as today until then. The successors run \
             on premises: CCRT (Confidential Computing on LinuxONE as a KVM guest, contract on \
             a cloud-init `cidata` disk), CCRV (Red Hat virtualization / IBM Cloud \
             Infrastructure Center) and CCCO (OpenShift confidential containers, contract in \
             the initdata); the same contracts are built with `hyperprotect_contract`."
        ),
    )
}
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
