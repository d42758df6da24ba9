//! pullsim-credentials (placeholder while the crate is built).
