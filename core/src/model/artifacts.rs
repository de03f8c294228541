//! How much a pipeline artifact, and one file read from it, may weigh.

/// The most a pipeline artifact object may weigh: a ZIP can hold other files beside
/// monspec.json, but a function reads it whole into memory (Lambda's 256 MiB at the least).
pub const MAX_ARTIFACT_BYTES: usize = 10 * 1024 * 1024;

/// The most one file read from an artifact (monspec.json, slo.yaml, sli.yaml) may weigh: the
/// stored validation carries it and its filled copy, and a DynamoDB item is limited to 400 KB.
pub const MAX_FILE_BYTES: usize = 100 * 1024;
