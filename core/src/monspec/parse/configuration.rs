//! A monspec's configurations, each with its environments and their tags, and its
//! comparisons with their tolerances, shifts and missing-data policy.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{
    join, json_type, Reader, COMPARISON_FIELDS, CONFIGURATION_FIELDS, MAX_SCALE_FACTOR_PERC,
    MAX_SHIFT_SECS, TAG_FIELDS,
};
use crate::monspec::model::{
    Comparison, Configuration, EntityType, Environment, MissingDataPolicy, Monspec, ScaleFactors,
    Tag,
};

impl Reader {
    pub(super) fn monspec(&mut self, document: &Value) -> Monspec {
        let Some(root) = document.as_object() else {
            self.problem(
                "",
                format!(
                    "a monspec is an object of configurations keyed by name (e.g. {{\"SampleJSonService\": {{…}}}}), found {}",
                    json_type(document)
                ),
            );
            return Monspec {
                configurations: vec![],
            };
        };
        let configurations: Vec<Configuration> = root
            .iter()
            .filter(|(key, _)| !key.starts_with('_'))
            .filter_map(|(key, value)| self.configuration(key, value))
            .collect();
        if configurations.is_empty() && self.problems.is_empty() {
            self.problem(
                "",
                "no configuration found: add one keyed by name, e.g. {\"SampleJSonService\": {\"etype\": \"SERVICE\", …}}",
            );
        }
        Monspec { configurations }
    }

    fn configuration(&mut self, key: &str, value: &Value) -> Option<Configuration> {
        let path = key.to_string();
        let object = self.object(value, &path, &CONFIGURATION_FIELDS)?;
        let problems_before = self.problems.len();

        let etype = match self.string(object, &path, "etype", true) {
            Some(text) => match EntityType::parse(&text) {
                Some(t) => Some(t),
                None => {
                    let supported: Vec<_> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
                    self.problem(
                        &join(&path, "etype"),
                        format!(
                            "unsupported entity type \"{text}\" (supported: {})",
                            supported.join(", ")
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let name = self.string(object, &path, "name", false);
        let owner = self.string(object, &path, "owner", false);
        let environments = self.environments(object, &path);
        let env_names: Vec<String> = environments.iter().map(|e| e.name.clone()).collect();
        let comparisons = self.comparisons(object, &path, &env_names);

        let perfsignature = match self.array(object, &path, "perfsignature") {
            Some(items) => self.signatures(items, &join(&path, "perfsignature")),
            None => Vec::new(),
        };
        let servicemethods = self.service_methods(object, &path, etype);
        if perfsignature.is_empty()
            && servicemethods.is_empty()
            && self.problems.len() == problems_before
        {
            self.problem(
                &join(&path, "perfsignature"),
                "no signature to check: add at least one entry to perfsignature or servicemethods",
            );
        }
        if let Some(etype) = etype {
            self.check_metric_scopes(&path, etype, &perfsignature, &servicemethods);
        }
        self.check_relative_signatures_have_baseline(
            &path,
            &comparisons,
            &perfsignature,
            &servicemethods,
        );
        self.check_scale_factors(&path, &comparisons, &perfsignature, &servicemethods);

        (self.problems.len() == problems_before).then(|| Configuration {
            key: key.to_string(),
            etype: etype.expect("checked above"),
            name,
            owner,
            environments,
            comparisons,
            perfsignature,
            servicemethods,
        })
    }

    fn environments(&mut self, object: &Map<String, Value>, path: &str) -> Vec<Environment> {
        let env_path = join(path, "environments");
        let Some(value) = object.get("environments") else {
            self.problem(
                &env_path,
                "is required but missing: define at least one environment with its tags",
            );
            return Vec::new();
        };
        let Some(map) = self.object(value, &env_path, &[]).cloned() else {
            return Vec::new();
        };
        // `object` reported every non-comment key as unknown: environments are free-form names,
        // so take those problems back.
        self.problems
            .retain(|p| !(p.path.starts_with(&env_path) && p.message.starts_with("unknown field")));
        let mut environments = Vec::new();
        for (name, env_value) in map.iter().filter(|(k, _)| !k.starts_with('_')) {
            let path = join(&env_path, name);
            let Some(env) = self.object(env_value, &path, &["tags"]) else {
                continue;
            };
            let tags_path = join(&path, "tags");
            let mut tags = Vec::new();
            match self.array(env, &path, "tags") {
                None => self.problem(&tags_path, "is required: list the tags that identify this environment's entities"),
                Some(items) if items.is_empty() => self.problem(
                    &tags_path,
                    "is empty: an environment without tags would match every entity; add e.g. {\"key\": \"DeploymentGroup\", \"value\": \"Staging\"}",
                ),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(tag) = self.tag(item, &format!("{tags_path}[{i}]")) {
                            tags.push(tag);
                        }
                    }
                }
            }
            environments.push(Environment {
                name: name.clone(),
                tags,
            });
        }
        if environments.is_empty() {
            self.problem(
                &env_path,
                "is empty: define at least one environment with its tags",
            );
        }
        environments
    }

    fn tag(&mut self, value: &Value, path: &str) -> Option<Tag> {
        let object = self.object(value, path, &TAG_FIELDS)?;
        let context = self.string(object, path, "context", false);
        let value = self.string(object, path, "value", false);
        let key = match object.get("key") {
            None | Some(Value::Null) => {
                self.problem(
                    &join(path, "key"),
                    "a tag needs a key, e.g. \"key\": \"DeploymentGroup\"",
                );
                None
            }
            _ => self.string(object, path, "key", true),
        }?;
        Some(Tag {
            context: context.unwrap_or_else(|| Tag::CONTEXTLESS.to_string()),
            key,
            value,
        })
    }

    fn comparisons(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        env_names: &[String],
    ) -> Vec<Comparison> {
        let list_path = join(path, "comparisons");
        let Some(items) = self.array(object, path, "comparisons") else {
            self.problem(&list_path, "is required: define at least one comparison, e.g. {\"name\": \"StagingToProduction\", \"source\": \"Staging\", \"compare\": \"Production\"}");
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut comparisons = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            let Some(cmp) = self.object(item, &path, &COMPARISON_FIELDS) else {
                continue;
            };
            let before = self.problems.len();
            let name = self.string(cmp, &path, "name", true);
            if let Some(name) = &name {
                if !seen.insert(name.clone()) {
                    self.problem(
                        &join(&path, "name"),
                        format!("comparison name \"{name}\" is used twice: each comparison needs its own name"),
                    );
                }
            }
            let source = self.string(cmp, &path, "source", true);
            let compare = self.string(cmp, &path, "compare", false);
            for (field, env) in [("source", &source), ("compare", &compare)] {
                if let Some(env) = env {
                    if !env_names.contains(env) {
                        self.problem(
                            &join(&path, field),
                            format!(
                                "environment \"{env}\" is not defined (defined: {})",
                                env_names.join(", ")
                            ),
                        );
                    }
                }
            }
            let scale_factors = self.scale_factors(cmp, &path);
            let shift_source_secs = self.shift(cmp, &path, "shiftsourcetimeframe");
            let shift_compare_secs = self.shift(cmp, &path, "shiftcomparetimeframe");
            if source.is_some() && source == compare && shift_source_secs == shift_compare_secs {
                self.problem(
                    &path,
                    "source and compare are the same environment over the same timeframe, so the check can never fail: set shiftcomparetimeframe (e.g. 3600 for the last hour)",
                );
            }
            let on_missing_data = self.policy(cmp, &path);
            if self.problems.len() == before {
                comparisons.push(Comparison {
                    name: name.expect("checked"),
                    source: source.expect("checked"),
                    compare,
                    scale_factors,
                    shift_source_secs,
                    shift_compare_secs,
                    on_missing_data,
                });
            }
        }
        if items.is_empty() {
            self.problem(&list_path, "is empty: define at least one comparison");
        }
        comparisons
    }

    fn scale_factors(&mut self, cmp: &Map<String, Value>, path: &str) -> ScaleFactors {
        let mut factors = ScaleFactors::default();
        let Some(value) = cmp.get("scalefactorperc") else {
            return factors;
        };
        let sf_path = join(path, "scalefactorperc");
        let Some(map) = value.as_object() else {
            self.problem(
                &sf_path,
                format!(
                    "expected an object such as {{\"default\": 15}}, found {}",
                    json_type(value)
                ),
            );
            return factors;
        };
        for (key, v) in map.iter().filter(|(k, _)| !k.starts_with('_')) {
            let entry_path = join(&sf_path, key);
            let Some(n) = v.as_f64() else {
                self.problem(
                    &entry_path,
                    format!("expected a percentage number, found {}", json_type(v)),
                );
                continue;
            };
            if n < 0.0 {
                self.problem(
                    &entry_path,
                    format!("{n} is negative: the tolerance is a distance in percent and `validate` gives its side; write {}", -n),
                );
                continue;
            }
            if n > MAX_SCALE_FACTOR_PERC {
                self.problem(
                    &entry_path,
                    format!("{n}% is absurd (at most {MAX_SCALE_FACTOR_PERC}%)"),
                );
                continue;
            }
            if key == "default" {
                factors.default = Some(n);
            } else {
                factors.per_metric.push((key.clone(), n));
            }
        }
        factors
    }

    fn shift(&mut self, cmp: &Map<String, Value>, path: &str, key: &str) -> u64 {
        let field = join(path, key);
        match cmp.get(key) {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(secs), _) if secs <= MAX_SHIFT_SECS => secs,
                (Some(secs), _) => {
                    self.problem(
                        &field,
                        format!(
                            "shift of {secs} s is absurd (more than {} days; shifts are in seconds, not milliseconds)",
                            MAX_SHIFT_SECS / 86400
                        ),
                    );
                    0
                }
                (None, Some(f)) if f < 0.0 => {
                    self.problem(&field, format!("shift {f} is negative: shifts go back in time, in seconds (e.g. 3600 for one hour ago)"));
                    0
                }
                _ => {
                    self.problem(
                        &field,
                        format!("shift {n} must be a whole number of seconds"),
                    );
                    0
                }
            },
            Some(other) => {
                self.problem(
                    &field,
                    format!("expected a number of seconds, found {}", json_type(other)),
                );
                0
            }
        }
    }

    pub(super) fn policy(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
    ) -> Option<MissingDataPolicy> {
        let text = self.string(object, path, "onmissingdata", false)?;
        let policy = MissingDataPolicy::parse(&text);
        if policy.is_none() {
            self.problem(
                &join(path, "onmissingdata"),
                format!("unknown policy \"{text}\" (use fail, warn or pass)"),
            );
        }
        policy
    }
}
