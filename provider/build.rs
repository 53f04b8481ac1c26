//! Compiles `proto/*.proto` into Rust at build time.
//!
//! protox parses the proto files in pure Rust (it carries the google.protobuf
//! well-known types), so a fresh machine needs no `protoc`; tonic-prost-build
//! then generates the messages and the server traits from that descriptor set.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with env!(): cargo may reuse a compiled build script
    // for another checkout of the same package that shares the target directory.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR unset")?;
    let proto_dir = PathBuf::from(manifest_dir).join("../proto");
    let files = ["tfplugin6.10.proto", "go_plugin.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let descriptors = protox::compile(files, [&proto_dir])?;
    // The compiled descriptors, for the test that pins every field against Terraform's own
    // wire definitions (runtime::proto::wire_tests).
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("wire_descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // Clients are only needed by tests that talk to the server like Terraform does.
        .build_client(true)
        .build_server(true)
        // RPCs we do not implement answer `Unimplemented` instead of needing hand-written stubs.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
