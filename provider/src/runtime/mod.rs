//! The plugin runtime: everything needed to be a Terraform provider plugin, with no knowledge
//! of what the provider manages.
//!
//! - [`proto`]: generated wire types.
//! - [`value`]: cty types and values, msgpack and JSON codecs.
//! - [`server`]: go-plugin handshake, (m)TLS, gRPC serving, lifecycle, debug mode.
//! - [`logging`]: `tracing` output as the hclog JSON lines Terraform parses.
//! - [`schema`], [`diag`]: schemas, diagnostics and attribute paths.
//! - [`framework`]: the `Provider` / `Resource` / `DataSource` traits and the generic
//!   protocol work that serves them.

pub mod diag;
pub mod framework;
pub mod logging;
pub mod proto;
pub mod schema;
pub mod server;
pub mod value;
