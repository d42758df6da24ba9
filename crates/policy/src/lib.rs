//! pullsim-policy (placeholder while the crate is built).
