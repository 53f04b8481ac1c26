//! The provider binary: hands the provider to the plugin server.
//!
//! Until the resource framework lands, the served provider is a placeholder whose every RPC
//! answers `Unimplemented` (the generated default methods).

use std::process::ExitCode;

use hyperprotect::runtime::proto::tfplugin6::provider_server::Provider;
use hyperprotect::runtime::server::{serve, ServeConfig};

/// Placeholder provider: the generated trait's defaults answer every RPC `Unimplemented`.
struct Placeholder;

impl Provider for Placeholder {}

fn main() -> ExitCode {
    serve(
        Placeholder,
        ServeConfig::new("registry.terraform.io/hyperprotect/hyperprotect"),
    )
}
