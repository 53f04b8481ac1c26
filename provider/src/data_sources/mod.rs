//! Data sources: one file per `hyperprotect_*` data source, each with its schema and read
//! only (the work itself is in the contract engine or the cloud client).

pub mod archive;
pub mod attestation;
pub mod encryption_certificate;

use std::sync::Arc;

use crate::runtime::framework::DataSource;

mod image;
mod instance_profiles;
mod subnet;
mod vpc;

/// Every data source the provider serves.
pub fn all() -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(archive::ArchiveDataSource),
        Arc::new(attestation::AttestationDataSource),
        Arc::new(encryption_certificate::EncryptionCertificateDataSource),
        Arc::new(image::HyperprotectImage),
        Arc::new(instance_profiles::HyperprotectInstanceProfiles),
        Arc::new(subnet::HyperprotectSubnet),
        Arc::new(vpc::HyperprotectVpc),
    ]
}
