//! Data sources: one file per `hyperprotect_*` data source, each with its schema and read
//! only (the work itself is in the contract engine or the cloud client).

pub mod archive;
pub mod attestation;
pub mod encryption_certificate;
pub mod image;
pub mod instance_profiles;
pub mod subnet;
pub mod vpc;

use std::sync::Arc;

use crate::runtime::framework::DataSource;

/// Every data source the provider serves.
pub fn all() -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(archive::ArchiveDataSource),
        Arc::new(attestation::AttestationDataSource),
        Arc::new(encryption_certificate::EncryptionCertificateDataSource),
        Arc::new(image::ImageDataSource),
        Arc::new(instance_profiles::InstanceProfilesDataSource),
        Arc::new(subnet::SubnetDataSource),
        Arc::new(vpc::VpcDataSource),
    ]
}
