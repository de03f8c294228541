//! An SLO evaluation as the pipeline stores it: Keptn's evaluation.finished fields, plus
//! where and over what it was measured. It is the validation's result JSON, what the report
//! draws, and the history the next evaluation of the same pipeline, stage and service takes
//! its baselines from.

use serde::{Deserialize, Serialize};

use super::score::Evaluation;

/// `"gate"` of a stored SLO evaluation (monspec results carry none).
pub const SLO_GATE: &str = "slo";
pub const RECORD_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationWindow {
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloRecord {
    pub schema_version: u32,
    /// Always [`SLO_GATE`]: how a reader tells this result from a monspec verdict.
    pub gate: String,
    #[serde(flatten)]
    pub evaluation: Evaluation,
    pub window: EvaluationWindow,
    /// SHA-256 of the slo.yaml text the evaluation was scored with.
    pub slo_hash: String,
    pub service: String,
    pub stage: String,
    pub provider: String,
}

impl SloRecord {
    /// The record in a stored result JSON, if it is one.
    pub fn from_result_json(text: &str) -> Option<SloRecord> {
        serde_json::from_str::<SloRecord>(text)
            .ok()
            .filter(|r| r.gate == SLO_GATE)
    }
}

/// Lower-case hex SHA-256 of a file's text.
pub fn file_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::score::failed;

    #[test]
    fn a_record_reads_back_and_a_monspec_result_is_not_one() {
        let record = SloRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            gate: SLO_GATE.into(),
            evaluation: failed("no data"),
            window: EvaluationWindow {
                start_ms: 1,
                end_ms: 2,
            },
            slo_hash: file_hash("spec_version: \"1.0\"\n"),
            service: "sample".into(),
            stage: "Staging".into(),
            provider: "prometheus".into(),
        };
        let text = serde_json::to_string(&record).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["gate"], "slo");
        assert_eq!(value["result"], "fail", "Keptn's fields at the top level");
        assert_eq!(SloRecord::from_result_json(&text), Some(record));
        assert_eq!(
            SloRecord::from_result_json(r#"{"schemaVersion":1,"configurations":[]}"#),
            None
        );
        assert_eq!(file_hash("").len(), 64);
    }
}
