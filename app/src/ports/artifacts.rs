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
    /// Refused before it is read (or inflated) whole: a small ZIP can inflate to gigabytes.
    #[error("{location}: {what} is {size} bytes; the limit is {limit} bytes ({why})")]
    TooLarge {
        location: String,
        /// What is too big: "the object", "monspec.json inflated", …
        what: String,
        /// As declared, or as read (then the first byte over the limit).
        size: u64,
        limit: usize,
        why: String,
    },
}

pub use unbreakable_core::model::artifacts::{MAX_ARTIFACT_BYTES, MAX_FILE_BYTES};

const FILE_LIMIT_WHY: &str =
    "the stored validation must stay under DynamoDB's 400 KB item limit; split the file";

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The object, refused with `TooLarge` when its declared length is over `limit`, and
    /// never more than `limit` bytes read.
    async fn get(
        &self,
        location: &ArtifactLocation,
        credentials: &ArtifactCredentials,
        limit: usize,
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
/// A canary gate's file; [`CANARY_JSON_FILE`] when it is written as JSON.
pub const CANARY_FILE: &str = "canary.yaml";
pub const CANARY_JSON_FILE: &str = "canary.json";

/// The monspec text from an artifact object: a ZIP holding `monspec.json` (at the root or
/// in a folder), or the raw file (an S3 source action copies it as-is).
pub fn monspec_text(location: &ArtifactLocation, body: &[u8]) -> Result<String, ArtifactError> {
    if !body.starts_with(ZIP_MAGIC) {
        if body.len() > MAX_FILE_BYTES {
            return Err(ArtifactError::TooLarge {
                location: location.to_string(),
                what: MONSPEC_FILE.into(),
                size: body.len() as u64,
                limit: MAX_FILE_BYTES,
                why: FILE_LIMIT_WHY.into(),
            });
        }
        return String::from_utf8(body.to_vec()).map_err(|e| ArtifactError::Unreadable {
            location: location.to_string(),
            message: format!(
                "neither a ZIP nor UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        });
    }
    zipped_file_text(location, body, MONSPEC_FILE)
}

/// Read at most `limit` bytes of `reader`; `Err(bytes read)` once it holds more.
pub fn read_at_most(reader: impl Read, limit: usize) -> std::io::Result<Result<Vec<u8>, u64>> {
    let mut bytes = Vec::new();
    reader.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok(if bytes.len() > limit {
        Err(bytes.len() as u64)
    } else {
        Ok(bytes)
    })
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
    let file = archive
        .by_name(name)
        .map_err(|e| unreadable(format!("{name}: {e}")))?;
    let too_large = |size: u64| ArtifactError::TooLarge {
        location: location.to_string(),
        what: format!("{name} inflated"),
        size,
        limit: MAX_FILE_BYTES,
        why: FILE_LIMIT_WHY.into(),
    };
    // The declared size first: a ZIP bomb is refused before a byte is inflated. The entry
    // may lie about it, so the read stops one byte over the limit anyway.
    if file.size() > MAX_FILE_BYTES as u64 {
        return Err(too_large(file.size()));
    }
    let bytes = read_at_most(file, MAX_FILE_BYTES)
        .map_err(|e| {
            unreadable(format!(
                "{name} cannot be inflated (a corrupt ZIP entry: {e})"
            ))
        })?
        .map_err(too_large)?;
    String::from_utf8(bytes).map_err(|e| {
        unreadable(format!(
            "{name} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
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

    /// Confirmed under a 256 MiB memory limit: a 1 MB ZIP inflating to 1 GiB killed the
    /// function before it answered the job. The declared size refuses it unread.
    #[test]
    fn a_zip_bomb_is_refused_by_its_declared_size_before_inflating() {
        let bomb = zip_files(&[("monspec.json", &vec![b' '; 16 * 1024 * 1024])]);
        assert!(bomb.len() < 50 * 1024, "{}", bomb.len());
        let e = monspec_text(&at(), &bomb).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s3://b/Pipe/Monspec/AbC1234: monspec.json inflated is 16777216 bytes; the limit is 102400 bytes (the stored validation must stay under DynamoDB's 400 KB item limit; split the file)"
        );
    }

    /// The entry may lie about its size: it is never inflated past what it declares.
    #[test]
    fn a_zip_entry_that_understates_its_size_is_refused() {
        let mut bomb = zip_files(&[("monspec.json", &vec![b' '; 1024 * 1024])]);
        let central = bomb
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        // The central directory's uncompressed size (offset 24) says 10 bytes.
        bomb[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
        let e = monspec_text(&at(), &bomb).unwrap_err().to_string();
        assert!(
            e.contains("monspec.json cannot be inflated (a corrupt ZIP entry: File is larger than its declared uncompressed size)"),
            "{e}"
        );
    }

    #[test]
    fn a_raw_monspec_over_the_limit_is_refused_with_its_size() {
        let e = monspec_text(&at(), &vec![b' '; MAX_FILE_BYTES + 1])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("monspec.json is 102401 bytes; the limit is 102400 bytes"),
            "{e}"
        );
    }

    /// Every read error used to say "is not UTF-8 text", a corrupt ZIP included.
    #[test]
    fn read_errors_say_what_they_are() {
        let e = monspec_text(&at(), &zip_files(&[("monspec.json", &[0xff, 0xfe, b'{'])]))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("monspec.json is not UTF-8 text (invalid byte at offset 0)"),
            "{e}"
        );
        let mut corrupt = zip_files(&[("monspec.json", &vec![b'x'; 4096])]);
        // Damage the deflated stream right after the local header (30 bytes + the name).
        let data = 30 + "monspec.json".len();
        for b in &mut corrupt[data..data + 8] {
            *b = 0xff;
        }
        let e = monspec_text(&at(), &corrupt).unwrap_err().to_string();
        assert!(
            e.contains("monspec.json cannot be inflated (a corrupt ZIP entry:"),
            "{e}"
        );
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
