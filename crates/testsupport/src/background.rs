//! An axum app served on a thread of its own with a current-thread runtime (the token server,
//! the fake API server): started from a bound, non-blocking std listener, stopped and joined when
//! the handle is stopped or dropped.

use std::thread::JoinHandle;

/// A running background server.
pub(crate) struct Background {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Serve `app` on `listener` (wrapped by `wrap`, e.g. in TLS, inside the runtime) on a thread
    /// named `name`. An error names the step that failed.
    pub(crate) fn serve<L>(
        name: String,
        listener: std::net::TcpListener,
        wrap: impl FnOnce(tokio::net::TcpListener) -> L,
        app: axum::Router,
    ) -> Result<Self, (&'static str, std::io::Error)>
    where
        L: axum::serve::Listener + Send + 'static,
        L::Addr: std::fmt::Debug,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ("starting a runtime for", e))?;
        let listener = {
            let _guard = runtime.enter();
            wrap(tokio::net::TcpListener::from_std(listener).map_err(|e| ("listening on", e))?)
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .map_err(|e| ("spawning a thread for", e))?;
        Ok(Background {
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stop serving and wait for the thread (idempotent).
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
