//! Secrets (the Dynatrace API token, the webhook secret), read at run time and cached per
//! container, behind [`SecretSource`]. Never logged.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {id}: {message}")]
pub struct SecretError {
    pub id: String,
    pub message: String,
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, id: &str) -> Result<String, SecretError>;
}

/// Caches each secret for the life of the container: a warm Lambda reads it once.
pub struct CachedSecrets<S> {
    inner: S,
    cache: Mutex<HashMap<String, String>>,
}

impl<S: SecretSource> CachedSecrets<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl<S: SecretSource> SecretSource for CachedSecrets<S> {
    async fn secret(&self, id: &str) -> Result<String, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some(value) = cache.get(id) {
            return Ok(value.clone());
        }
        let value = self.inner.secret(id).await?;
        cache.insert(id.to_string(), value.clone());
        Ok(value)
    }
}
