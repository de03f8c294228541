//! Secrets (the Dynatrace API token, the webhook secret), read at run time and cached per
//! container for a few minutes, behind [`SecretSource`]. Never logged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// How long a warm container keeps a secret: a rotated token or webhook secret is picked up
/// within this, at one Secrets Manager call per secret and period.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

/// Caches each secret for [`SECRET_TTL`] (or the given time): a warm Lambda reads it once
/// per period, and sees a rotation at the next.
pub struct CachedSecrets<S> {
    inner: S,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, String)>>,
}

impl<S: SecretSource> CachedSecrets<S> {
    pub fn new(inner: S) -> Self {
        Self::with_ttl(inner, SECRET_TTL)
    }

    pub fn with_ttl(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl<S: SecretSource> SecretSource for CachedSecrets<S> {
    async fn secret(&self, id: &str) -> Result<String, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some((read_at, value)) = cache.get(id) {
            if read_at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        // An expired value is dropped even if the refresh fails: never act on a secret
        // that may have been rotated away.
        cache.remove(id);
        let value = self.inner.secret(id).await?;
        cache.insert(id.to_string(), (Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// One secret whose value the test rotates.
    #[derive(Clone, Default)]
    struct Rotating(Arc<std::sync::Mutex<String>>);

    #[async_trait]
    impl SecretSource for Rotating {
        async fn secret(&self, _id: &str) -> Result<String, SecretError> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    /// A secret cached for the container's life ignored a rotation.
    #[tokio::test]
    async fn a_rotated_secret_is_read_again_after_the_ttl() {
        let source = Rotating::default();
        *source.0.lock().unwrap() = "old".into();
        let cached = CachedSecrets::with_ttl(source.clone(), Duration::from_millis(50));
        assert_eq!(cached.secret("token").await.unwrap(), "old");
        *source.0.lock().unwrap() = "new".into();
        assert_eq!(
            cached.secret("token").await.unwrap(),
            "old",
            "within the TTL"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(cached.secret("token").await.unwrap(), "new");
    }
}
