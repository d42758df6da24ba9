//! One module per subcommand.
pub mod images;
pub mod images_fmt;
pub mod images_gc;
pub mod images_io;
pub mod policy;
pub mod pull;
