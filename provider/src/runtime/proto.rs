//! Generated wire types and service traits (see `build.rs` and `proto/`).

/// Terraform plugin protocol 6 as Terraform v1.15.5 speaks it (labelled 6.10).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's controller, stdio and broker services.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

#[cfg(test)]
#[path = "proto_wire_tests.rs"]
mod wire_tests;
