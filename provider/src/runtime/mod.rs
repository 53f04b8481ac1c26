//! The plugin runtime: everything needed to be a Terraform provider plugin, with no knowledge
//! of what the provider manages.
//!
//! - [`proto`]: generated wire types.
//! - [`value`]: cty types and values, msgpack and JSON codecs.
//! - [`server`]: go-plugin handshake, (m)TLS, gRPC serving, lifecycle, debug mode.
//! - [`logging`]: `tracing` output as the hclog JSON lines Terraform parses.

pub mod logging;
pub mod proto;
pub mod server;
pub mod value;
