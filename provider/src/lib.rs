//! terraform-provider-hyperprotect as a library: the layers the binary is built from.
//!
//! - [`runtime`]: Terraform plugin protocol 6 (gRPC, go-plugin handshake, mTLS, values, schemas).
//!   Knows nothing of contracts or clouds.
//! - [`contract`]: the Hyper Protect contract engine (encryption, signing, validation,
//!   attestation, certificates, image selection). Knows nothing of Terraform.
//! - [`cidata`]: cloud-init NoCloud seed disks (ISO 9660 `cidata` images) for CCRT / CCRV
//!   guests on KVM, with IBM's network-config rules. Knows nothing of Terraform.
//! - [`provider`]: the provider itself (schema, configure, registration); [`provider_data`]:
//!   what its objects share at run time; [`resources`], [`data_sources`],
//!   [`ephemeral_resources`] and [`list_resources`] hold one file per object it serves.

pub mod cidata;
pub mod cloud;
pub mod contract;
pub mod data_sources;
pub mod ephemeral_resources;
pub mod libvirt;
pub mod list_resources;
pub mod provider;
pub mod provider_data;
pub mod resources;
pub mod runtime;
