//! Signatures (the metrics to check, with their limits) and the service methods that hold
//! their own.

use serde_json::{Map, Value};

use super::{join, Reader, SERVICE_METHOD_FIELDS, SIGNATURE_FIELDS};
use crate::monspec::catalog;
use crate::monspec::model::{
    Aggregate, Direction, EntityType, Relationship, RelationshipDirection, ServiceMethod,
    Signature, SignatureSubject,
};

/// Response-time limits below this many µs (1 ms) are almost always meant in ms.
const SUSPICIOUS_RESPONSE_TIME_LIMIT_US: f64 = 1000.0;

impl Reader {
    pub(super) fn signatures(&mut self, items: &[Value], path: &str) -> Vec<Signature> {
        if items.is_empty() {
            self.problem(path, "is empty: list at least one metric, e.g. {\"timeseries\": \"com.dynatrace.builtin:service.responsetime\", \"aggregate\": \"avg\"}");
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.signature(item, &format!("{path}[{i}]")))
            .collect()
    }

    fn signature(&mut self, value: &Value, path: &str) -> Option<Signature> {
        let object = self.object(value, path, &SIGNATURE_FIELDS)?;
        let before = self.problems.len();
        let timeseries = self.string(object, path, "timeseries", false);
        let smartscape = self.string(object, path, "smartscape", false);
        let subject = match (timeseries, smartscape) {
            (Some(_), Some(_)) => {
                self.problem(
                    path,
                    "has both timeseries and smartscape: a signature checks one of them",
                );
                None
            }
            (None, None) => {
                if self.problems.len() == before {
                    self.problem(path, "needs either \"timeseries\" (a metric id) or \"smartscape\" (e.g. \"toRelationships:calls\")");
                }
                None
            }
            (Some(id), None) => Some(SignatureSubject::Timeseries(id)),
            (None, Some(text)) => match parse_relationship(&text) {
                Some(rel) => Some(SignatureSubject::Smartscape(rel)),
                None => {
                    self.problem(
                        &join(path, "smartscape"),
                        format!("\"{text}\" is not a relationship: write fromRelationships:<name> or toRelationships:<name>, e.g. toRelationships:calls"),
                    );
                    None
                }
            },
        };
        let aggregate = match self.string(object, path, "aggregate", false) {
            Some(text) => {
                let aggregate = Aggregate::parse(&text);
                if aggregate.is_none() {
                    self.problem(
                        &join(path, "aggregate"),
                        format!("unknown aggregate \"{text}\" (use avg, min, max, sum, count, median, or pNN with NN from 1 to 99)"),
                    );
                }
                aggregate
            }
            None => match &subject {
                Some(SignatureSubject::Smartscape(_)) => Some(Aggregate::Count),
                _ => {
                    if subject.is_some() {
                        self.problem(&join(path, "aggregate"), "is required for a timeseries: avg, min, max, sum, count, median or pNN");
                    }
                    None
                }
            },
        };
        if let (Some(SignatureSubject::Smartscape(_)), Some(agg)) = (&subject, aggregate) {
            if agg != Aggregate::Count {
                self.problem(&join(path, "aggregate"), format!("a smartscape signature counts related entities: use \"count\", not \"{agg}\""));
            }
        }
        let validate = match self.string(object, path, "validate", false) {
            Some(text) => Direction::parse(&text).or_else(|| {
                self.problem(
                    &join(path, "validate"),
                    format!("unknown validate \"{text}\" (use upper or lower)"),
                );
                None
            }),
            None => Some(Direction::Upper),
        };
        let upper_limit = self.number(object, path, "upperlimit");
        let lower_limit = self.number(object, path, "lowerlimit");
        if let (Some(upper), Some(lower)) = (upper_limit, lower_limit) {
            if lower >= upper {
                self.problem(
                    path,
                    format!(
                        "lowerlimit {lower} is not below upperlimit {upper}: no value could pass"
                    ),
                );
            }
        }
        if let Some(SignatureSubject::Timeseries(id)) = &subject {
            // The count of a response-time metric is a number of requests, not µs.
            let in_microseconds = catalog::unit_of(id) == catalog::Unit::Microseconds
                && aggregate != Some(Aggregate::Count);
            for (key, limit) in [("upperlimit", upper_limit), ("lowerlimit", lower_limit)] {
                match limit {
                    Some(l) if in_microseconds && l < SUSPICIOUS_RESPONSE_TIME_LIMIT_US => self.warning(
                        &join(path, key),
                        format!(
                            "{l} µs is {} ms: response-time limits are in µs (the API's unit), and one below 1,000 is almost always a limit meant in ms; for {l} ms write {}",
                            l / 1000.0,
                            l * 1000.0
                        ),
                    ),
                    _ => {}
                }
            }
        }
        let on_missing_data = self.policy(object, path);
        if self.problems.len() != before {
            return None;
        }
        Some(Signature {
            subject: subject?,
            aggregate: aggregate?,
            validate: validate?,
            upper_limit,
            lower_limit,
            on_missing_data,
        })
    }

    pub(super) fn service_methods(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        etype: Option<EntityType>,
    ) -> Vec<ServiceMethod> {
        let list_path = join(path, "servicemethods");
        let Some(items) = self.array(object, path, "servicemethods") else {
            return Vec::new();
        };
        if !items.is_empty() && etype.is_some_and(|t| t != EntityType::Service) {
            self.problem(&list_path, "service methods exist only on SERVICE entities: set etype to SERVICE or remove servicemethods");
        }
        let mut methods = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            let Some(method) = self.object(item, &path, &SERVICE_METHOD_FIELDS) else {
                continue;
            };
            let name = self.string(method, &path, "name", true);
            let signatures = match self.array(method, &path, "perfsignature") {
                Some(items) => self.signatures(items, &join(&path, "perfsignature")),
                None => {
                    self.problem(
                        &join(&path, "perfsignature"),
                        "is required: list the metrics to check for this method",
                    );
                    Vec::new()
                }
            };
            if let Some(name) = name {
                methods.push(ServiceMethod {
                    name,
                    perfsignature: signatures,
                });
            }
        }
        methods
    }
}

fn parse_relationship(text: &str) -> Option<Relationship> {
    let (direction, name) = text.split_once(':')?;
    let direction = match direction {
        "fromRelationships" => RelationshipDirection::From,
        "toRelationships" => RelationshipDirection::To,
        _ => return None,
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| Relationship {
        direction,
        name: name.to_string(),
    })
}
