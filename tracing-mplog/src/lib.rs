//! Multi-process logging for the [`tracing`](https://docs.rs/tracing) ecosystem.
//!
//! (Under construction: the layer and the worker helper arrive next; the
//! wire protocol is in [`wire`].)
#![warn(missing_docs)]

#[allow(dead_code)] // Used by the layer, which arrives next.
mod capture;
pub mod wire;
