//! The `rtest` provider binary (tests only; see `acceptance_tests::rtest`).

use std::process::ExitCode;

use acceptance_tests::rtest::RtestProvider;
use hyperprotect::runtime::framework::GrpcProvider;
use hyperprotect::runtime::server::{serve, ServeConfig};

fn main() -> ExitCode {
    serve(
        GrpcProvider::new(RtestProvider),
        ServeConfig::new("registry.terraform.io/hyperprotect/rtest"),
    )
}
