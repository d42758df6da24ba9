//! pullsim-reference (placeholder while the crate is built).
