//! pullsim-node (placeholder while the crate is built).
