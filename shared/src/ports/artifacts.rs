//! Pipeline artifacts in S3: the monspec input and the published result, behind
//! [`ArtifactStore`]. Reading and writing the ZIP layout is pure and lives here.

use std::io::{Cursor, Read, Write};

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLocation {
    pub bucket: String,
    pub key: String,
}

impl std::fmt::Display for ArtifactLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The temporary credentials CodePipeline hands to a job for its artifact bucket. Never
/// logged or stored: `Debug` shows only the key id's prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix: String = self.access_key_id.chars().take(4).collect();
        write!(f, "ArtifactCredentials({prefix}…, redacted)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("{location}: no such object (is the artifact produced by an earlier action?)")]
    Missing { location: String },
    #[error("{location}: {message}")]
    Unreadable { location: String, message: String },
    #[error("{location}: {message}")]
    Call { location: String, message: String },
}

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    async fn get(
        &self,
        location: &ArtifactLocation,
        credentials: &ArtifactCredentials,
    ) -> Result<Vec<u8>, ArtifactError>;
    async fn put(
        &self,
        location: &ArtifactLocation,
        credentials: &ArtifactCredentials,
        body: Vec<u8>,
    ) -> Result<(), ArtifactError>;
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
pub const MONSPEC_FILE: &str = "monspec.json";
pub const SLO_FILE: &str = "slo.yaml";
pub const SLI_FILE: &str = "sli.yaml";

/// The monspec text from an artifact object: a ZIP holding `monspec.json` (at the root or
/// in a folder), or the raw file (an S3 source action copies it as-is).
pub fn monspec_text(location: &ArtifactLocation, body: &[u8]) -> Result<String, ArtifactError> {
    if !body.starts_with(ZIP_MAGIC) {
        return String::from_utf8(body.to_vec()).map_err(|e| ArtifactError::Unreadable {
            location: location.to_string(),
            message: format!("neither a ZIP nor UTF-8 text ({e})"),
        });
    }
    zipped_file_text(location, body, MONSPEC_FILE)
}

/// The text of `file_name` in a ZIP artifact, at the root or in a folder (the shallowest).
pub fn zipped_file_text(
    location: &ArtifactLocation,
    body: &[u8],
    file_name: &str,
) -> Result<String, ArtifactError> {
    let unreadable = |message: String| ArtifactError::Unreadable {
        location: location.to_string(),
        message,
    };
    if !body.starts_with(ZIP_MAGIC) {
        return Err(unreadable(format!(
            "not a ZIP; {file_name} is read from a ZIP artifact (zip the files together)"
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(body))
        .map_err(|e| unreadable(format!("a broken ZIP ({e})")))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let Some(name) = names
        .iter()
        .filter(|n| *n == file_name || n.ends_with(&format!("/{file_name}")))
        .min_by_key(|n| n.len())
    else {
        let mut shown = names.clone();
        shown.sort();
        shown.truncate(10);
        return Err(unreadable(format!(
            "the ZIP has no {file_name} (it holds: {})",
            if shown.is_empty() {
                "nothing".to_string()
            } else {
                shown.join(", ")
            }
        )));
    };
    let mut file = archive
        .by_name(name)
        .map_err(|e| unreadable(format!("{name}: {e}")))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| unreadable(format!("{name} is not UTF-8 text ({e})")))?;
    Ok(text)
}

/// A ZIP with the given files (deflated).
pub fn zip_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(content).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> ArtifactLocation {
        ArtifactLocation {
            bucket: "b".into(),
            key: "Pipe/Monspec/AbC1234".into(),
        }
    }

    #[test]
    fn raw_json_and_zips_both_yield_the_monspec() {
        assert_eq!(monspec_text(&at(), b"{\"a\":1}").unwrap(), "{\"a\":1}");
        let zipped = zip_files(&[("readme.txt", b"x"), ("monspec/monspec.json", b"{\"b\":2}")]);
        assert_eq!(monspec_text(&at(), &zipped).unwrap(), "{\"b\":2}");
    }

    #[test]
    fn a_zip_without_monspec_names_what_it_holds() {
        let zipped = zip_files(&[("app.js", b"x")]);
        let e = monspec_text(&at(), &zipped).unwrap_err().to_string();
        assert_eq!(
            e,
            "s3://b/Pipe/Monspec/AbC1234: the ZIP has no monspec.json (it holds: app.js)"
        );
        let e = monspec_text(&at(), b"PK\x03\x04garbage")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a broken ZIP"), "{e}");
        let e = monspec_text(&at(), &[0xff, 0xfe, 0x00])
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a ZIP nor UTF-8 text"), "{e}");
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let c = ArtifactCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "SECRET".into(),
            session_token: "TOKEN".into(),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("TOKEN") && !shown.contains("EXAMPLE"),
            "{shown}"
        );
    }
}
