//! pullsim-testsupport (placeholder while the crate is built).
