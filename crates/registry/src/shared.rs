//! What every clone of a client shares: options, HTTP transport, token cache, learned hosts and
//! the in-flight blob map.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::challenge::Challenge;
use crate::auth::token::TokenCache;
use crate::inflight::{ChunkBudget, InFlight};
use crate::options::ClientOptions;
use crate::transport::Transport;

/// What clones of a [`crate::Client`] share.
pub(crate) struct Inner {
    pub(crate) opts: ClientOptions,
    pub(crate) transport: Transport,
    pub(crate) tokens: TokenCache,
    /// Per registry host: base URL (scheme learned) and the challenge learned from a 401.
    pub(crate) hosts: Mutex<HashMap<String, (url::Url, Option<Challenge>)>>,
    pub(crate) inflight: InFlight,
    /// The network buffers of all its downloads ([`ClientOptions::download_buffer_budget`]).
    pub(crate) chunks: ChunkBudget,
    /// The node-wide download limit ([`ClientOptions::shared_download_limit`]).
    pub(crate) downloads: std::sync::Arc<tokio::sync::Semaphore>,
}
