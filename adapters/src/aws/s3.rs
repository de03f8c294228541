//! [`ArtifactStore`] on S3 with the job's own artifact credentials.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::sdk_error::error_parts;

use crate::ports::artifacts::{
    ArtifactCredentials, ArtifactError, ArtifactLocation, ArtifactStore,
};

pub struct S3ArtifactStore {
    config: SdkConfig,
    path_style: bool,
}

impl S3ArtifactStore {
    /// `path_style` for local endpoints (moto), which have no virtual-host buckets.
    pub fn new(config: SdkConfig, path_style: bool) -> Self {
        Self { config, path_style }
    }

    fn client(&self, credentials: &ArtifactCredentials) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .credentials_provider(Credentials::new(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.clone(),
                Some(credentials.session_token.clone()),
                None,
                "codepipeline-artifact",
            ))
            .force_path_style(self.path_style)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

fn call_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    location: &ArtifactLocation,
    operation: &str,
    err: SdkError<E>,
) -> ArtifactError {
    let (code, message) = error_parts(operation, &err);
    match code.as_str() {
        "NoSuchKey" | "NoSuchBucket" | "NotFound" => ArtifactError::Missing {
            location: location.to_string(),
        },
        _ => ArtifactError::Call {
            location: location.to_string(),
            message,
        },
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn get(
        &self,
        location: &ArtifactLocation,
        credentials: &ArtifactCredentials,
        limit: usize,
    ) -> Result<Vec<u8>, ArtifactError> {
        let mut out = self
            .client(credentials)
            .get_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .send()
            .await
            .map_err(|e| call_error(location, "GetObject", e))?;
        let too_large = |size: u64| {
            ArtifactError::TooLarge {
            location: location.to_string(),
            what: "the object".into(),
            size,
            limit,
            why: "a function reads its artifact into memory; keep only the files it reads in the artifact".into(),
        }
        };
        let declared = out.content_length().unwrap_or(0).max(0) as u64;
        if declared > limit as u64 {
            return Err(too_large(declared));
        }
        // Streamed in chunks and stopped one byte over: the declared length may be absent.
        let mut body = Vec::with_capacity(declared as usize);
        while let Some(chunk) = out.body.next().await {
            let chunk = chunk.map_err(|e| ArtifactError::Call {
                location: location.to_string(),
                message: format!("reading the object failed: {e}"),
            })?;
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(too_large(body.len() as u64));
            }
        }
        Ok(body)
    }

    async fn put(
        &self,
        location: &ArtifactLocation,
        credentials: &ArtifactCredentials,
        body: Vec<u8>,
    ) -> Result<(), ArtifactError> {
        self.client(credentials)
            .put_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| call_error(location, "PutObject", e))?;
        Ok(())
    }
}
