//! Examples and cross-process tests for tracing-mplog.
