//! pullsim-registry (placeholder while the crate is built).
