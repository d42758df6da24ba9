//! Go durations for `metav1.Duration` fields (`defaultCacheDuration`, `cacheDuration`): the
//! one implementation in `pullsim_reference::go_duration`.

pub use pullsim_reference::go_duration::{DurationError, format_go_duration, parse_go_duration};
