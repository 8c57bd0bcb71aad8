//! Multi-process logging for the [`tracing`](https://docs.rs/tracing) ecosystem.
//!
//! (Under construction: the layer, the wire protocol and the worker helper
//! arrive with the pipeline work.)
#![warn(missing_docs)]
