//! The provider binary: hands the provider to the plugin server.

use std::process::ExitCode;

use hyperprotect::provider::{HyperprotectProvider, ADDRESS};
use hyperprotect::runtime::framework::GrpcProvider;
use hyperprotect::runtime::server::{serve, ServeConfig};

fn main() -> ExitCode {
    serve(
        GrpcProvider::new(HyperprotectProvider),
        ServeConfig::new(ADDRESS),
    )
}
