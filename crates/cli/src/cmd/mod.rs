//! One module per subcommand.
pub mod completion;
pub mod creds;
pub mod creds_check;
pub mod images;
pub mod images_fmt;
pub mod images_gc;
pub mod images_io;
pub mod images_list;
pub mod pod;
pub mod pod_explain;
pub mod pod_render;
pub mod policy;
pub mod pull;
pub mod reference;
pub mod runtime_notes;
pub mod secret;
pub mod secret_create;
