//! The JSON Schema of the monspec format, built from the same field lists and enums the
//! reader uses, so the two cannot drift apart. `unbreakable schema` prints it; a test checks
//! that `monspec/monspec.schema.json` is up to date.

use serde_json::{json, Map, Value};

use super::parse::{
    COMPARISON_FIELDS, CONFIGURATION_FIELDS, MAX_SCALE_FACTOR_PERC, MAX_SHIFT_SECS, OUTPUT_FIELDS,
    SERVICE_METHOD_FIELDS, SIGNATURE_FIELDS, TAG_FIELDS,
};
use super::{EntityType, MissingDataPolicy};

/// The `aggregate` values the reader accepts: avg|min|max|sum|count|median|pNN (1 ≤ NN ≤ 99).
pub const AGGREGATE_PATTERN: &str = "^(avg|min|max|sum|count|median|p([1-9]|[1-9][0-9]))$";
const RELATIONSHIP_PATTERN: &str = "^(fromRelationships|toRelationships):[A-Za-z0-9_]+$";

fn object(fields: &[&str], properties: Value, required: &[&str]) -> Value {
    let properties = properties.as_object().expect("properties object").clone();
    assert_eq!(
        properties.keys().map(String::as_str).collect::<Vec<_>>(),
        fields,
        "schema properties must list exactly the reader's fields, in order"
    );
    let mut ignored = Map::new();
    for field in OUTPUT_FIELDS {
        ignored.insert(
            field.to_string(),
            json!({"description": "Written by the validation; ignored on input."}),
        );
    }
    let mut all = properties;
    all.extend(ignored);
    json!({
        "type": "object",
        "properties": all,
        "required": required,
        "patternProperties": {"^_": {"description": "Comment: keys starting with _ are ignored."}},
        "additionalProperties": false
    })
}

/// The schema document.
pub fn monspec_schema() -> Value {
    let policy = json!({
        "enum": MissingDataPolicy::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "default": "fail",
        "description": "What missing data (no entity matched the tags, or no datapoints) means. fail (default): the build is not approved. warn: approval is possible, with a warning. pass: the original tutorial's lenient behaviour. A failed query is always an error and never approves. Set on a comparison, or on a signature to override it."
    });
    let tag = object(
        &TAG_FIELDS,
        json!({
            "context": {"type": "string", "default": "CONTEXTLESS", "description": "Tag context: CONTEXTLESS, AWS, AWS_GENERIC, AZURE, CLOUD_FOUNDRY, ENVIRONMENT, GOOGLE_CLOUD, KUBERNETES."},
            "key": {"type": "string", "minLength": 1},
            "value": {"type": "string"}
        }),
        &["key"],
    );
    let signature = object(
        &SIGNATURE_FIELDS,
        json!({
            "timeseries": {"type": "string", "minLength": 1, "description": "Metric id: a v1 timeseries id (com.dynatrace.builtin:service.responsetime) or a v2 metric key (builtin:service.response.time)."},
            "smartscape": {"type": "string", "pattern": RELATIONSHIP_PATTERN, "description": "Count of distinct entities related to the resolved entities, e.g. toRelationships:calls."},
            "aggregate": {"type": "string", "pattern": AGGREGATE_PATTERN, "description": "avg, min, max, sum, count, median or pNN (NN from 1 to 99). Required for timeseries; smartscape only counts."},
            "validate": {"enum": ["upper", "lower"], "default": "upper", "description": "Which side of the tolerance band is checked."},
            "upperlimit": {"type": "number", "description": "Static limit in the API's unit (µs for response times): pass only if value < upperlimit."},
            "lowerlimit": {"type": "number", "description": "Static limit: pass only if value > lowerlimit. With both limits, both apply."},
            "onmissingdata": policy
        }),
        &[],
    );
    let signatures =
        json!({"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/signature"}});
    let comparison = object(
        &COMPARISON_FIELDS,
        json!({
            "name": {"type": "string", "minLength": 1, "description": "Unique within the configuration; the pipeline action names it."},
            "source": {"type": "string", "description": "Environment measured (the build under test)."},
            "compare": {"type": "string", "description": "Baseline environment. Optional when every signature has static limits."},
            "scalefactorperc": {
                "type": "object",
                "description": "Tolerance in percent: per metric id, else default, else 0.",
                "properties": {"default": {"type": "number", "minimum": 0, "maximum": MAX_SCALE_FACTOR_PERC}},
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_SCALE_FACTOR_PERC}
            },
            "shiftsourcetimeframe": {"type": "integer", "minimum": 0, "maximum": MAX_SHIFT_SECS, "description": "Seconds to shift the source window back."},
            "shiftcomparetimeframe": {"type": "integer", "minimum": 0, "maximum": MAX_SHIFT_SECS, "description": "Seconds to shift the compare window back (3600: last hour, 86400: yesterday)."},
            "onmissingdata": policy
        }),
        &["name", "source"],
    );
    let service_method = object(
        &SERVICE_METHOD_FIELDS,
        json!({
            "name": {"type": "string", "minLength": 1, "description": "Service method (key request) name, e.g. /api/invoke."},
            "perfsignature": signatures
        }),
        &["name", "perfsignature"],
    );
    let configuration = object(
        &CONFIGURATION_FIELDS,
        json!({
            "etype": {"enum": EntityType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()},
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "environments": {
                "type": "object",
                "minProperties": 1,
                "patternProperties": {"^_": {}},
                "additionalProperties": {
                    "type": "object",
                    "properties": {"tags": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/tag"}}},
                    "required": ["tags"],
                    "patternProperties": {"^_": {}},
                    "additionalProperties": false
                }
            },
            "comparisons": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/comparison"}},
            "perfsignature": signatures,
            "servicemethods": {"type": "array", "items": {"$ref": "#/$defs/servicemethod"}}
        }),
        &["etype", "environments", "comparisons"],
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/unbreakable/unbreakable/monspec/monspec.schema.json",
        "title": "monspec",
        "description": "Unbreakable monspec: configurations keyed by name. Generated by `unbreakable schema`; do not edit by hand.",
        "type": "object",
        "minProperties": 1,
        "patternProperties": {"^_": {}},
        "additionalProperties": {"$ref": "#/$defs/configuration"},
        "$defs": {
            "configuration": configuration,
            "comparison": comparison,
            "signature": signature,
            "servicemethod": service_method,
            "tag": tag
        }
    })
}
