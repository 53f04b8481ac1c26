//! The Hyper Protect contract engine.
