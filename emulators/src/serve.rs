//! Every double here is an axum server on loopback that stops when its owner drops it.

use std::net::SocketAddr;

use tokio::sync::oneshot;

/// Serve `app` on `address` (port 0: a free one) until the returned sender fires or is
/// dropped (a dropped sender completes the receiver too, so the owner just keeps it in a
/// field); the bound address comes back with it.
pub async fn serve(
    address: SocketAddr,
    app: axum::Router,
) -> std::io::Result<(SocketAddr, oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok((address, tx))
}

/// A free loopback address for [`serve`].
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
