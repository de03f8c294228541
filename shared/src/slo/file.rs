//! slo.yaml and sli.yaml as Keptn writes them (JSON is YAML too), read and checked. Every
//! problem names the file, line, column and path, and says how to fix it; a file with a
//! problem is not used (Keptn would skip a bad warning criterion, or pass without a file).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::criteria::{parse_criterion, Criterion};
use crate::yaml_file::{parse_yaml, Problems};
pub use crate::yaml_file::{FileErrors, FileProblem};

/// What to compare a build with (Keptn's `comparison`).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// How many earlier evaluations make the baseline; `None` takes them all.
    pub results: Option<usize>,
    pub include: IncludeResults,
    pub aggregate: Aggregate,
    /// Ours: a relative criterion without a baseline is a violation, not met.
    pub require_baseline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeResults {
    All,
    Pass,
    PassOrWarn,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Avg,
    /// A percentile, 0..1.
    Percentile(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub sli: String,
    pub display_name: String,
    /// Alternatives (any may hold), each a list of criteria that must all hold.
    pub pass: Vec<Vec<Criterion>>,
    pub warning: Vec<Vec<Criterion>>,
    pub weight: f64,
    pub key_sli: bool,
}

/// A checked slo.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub spec_version: Option<String>,
    pub filter: BTreeMap<String, String>,
    pub comparison: Comparison,
    pub objectives: Vec<Objective>,
    /// Percent thresholds of the total score.
    pub pass_score: f64,
    pub warning_score: Option<f64>,
}

/// A checked sli.yaml: indicator name → provider query.
#[derive(Debug, Clone, PartialEq)]
pub struct SliFile {
    pub spec_version: Option<String>,
    pub indicators: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    spec_version: Option<Spanned<String>>,
    filter: Option<BTreeMap<String, String>>,
    comparison: Option<Spanned<RawComparison>>,
    objectives: Option<Spanned<Vec<Option<Spanned<RawObjective>>>>>,
    total_score: Option<Spanned<RawTotalScore>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComparison {
    compare_with: Option<Spanned<String>>,
    include_result_with_score: Option<Spanned<String>>,
    number_of_comparison_results: Option<Spanned<i64>>,
    aggregate_function: Option<Spanned<String>>,
    require_baseline: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    sli: Option<Spanned<String>>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    pass: Option<Vec<Spanned<RawCriteria>>>,
    warning: Option<Vec<Spanned<RawCriteria>>>,
    weight: Option<Spanned<f64>>,
    key_sli: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriteria {
    criteria: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTotalScore {
    pass: Option<Spanned<String>>,
    warning: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSli {
    spec_version: Option<String>,
    indicators: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

fn yaml<'a, T: Deserialize<'a>>(file: &str, text: &'a str) -> Result<T, FileErrors> {
    parse_yaml(file, text, |_| {
        "check the indentation and the field names against Keptn's slo.yaml format".into()
    })
}

/// A total-score threshold: a number, with one optional trailing `%` (Keptn's rule).
fn percent(text: &str) -> Option<f64> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    number.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn criteria_lists(
    blocks: &[Spanned<RawCriteria>],
    path: &str,
    problems: &mut Problems,
) -> Vec<Vec<Criterion>> {
    let mut lists = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{b}]");
        let Some(criteria) = &block.value.criteria else {
            problems.add(
                block.referenced,
                &block_path,
                "has no criteria: write `- criteria: [\"<=800\"]`",
            );
            continue;
        };
        if criteria.is_empty() {
            problems.add(
                block.referenced,
                format!("{block_path}.criteria"),
                "is empty: it would hold for any value; list at least one criterion",
            );
        }
        let mut list = Vec::new();
        for (c, text) in criteria.iter().enumerate() {
            match parse_criterion(&text.value) {
                Ok(criterion) => list.push(criterion),
                Err(message) => problems.add(
                    text.referenced,
                    format!("{block_path}.criteria[{c}]"),
                    message,
                ),
            }
        }
        lists.push(list);
    }
    lists
}

/// Read and check a slo.yaml (or JSON). `file` names it in messages.
pub fn parse_slo(file: &str, text: &str) -> Result<Slo, FileErrors> {
    let raw: RawSlo = yaml(file, text)?;
    let start = Location::UNKNOWN;
    let mut problems = Problems::default();

    let comparison = match &raw.comparison {
        // Keptn's default when the block is absent: the single newest evaluation, averaged.
        None => Comparison {
            results: Some(1),
            include: IncludeResults::All,
            aggregate: Aggregate::Avg,
            require_baseline: false,
        },
        Some(block) => {
            let c = &block.value;
            let number = c.number_of_comparison_results.as_ref();
            let results = match c.compare_with.as_ref().map(|s| s.value.as_str()) {
                Some("single_result") => Some(1),
                Some("several_results") => match number.map(|n| n.value) {
                    None | Some(0) => Some(3),
                    Some(n) if n < 0 => None,
                    Some(n) => Some(n as usize),
                },
                // Keptn compares with 3 when compare_with is missing from a present block.
                None => Some(3),
                Some(other) => {
                    problems.add(
                        c.compare_with
                            .as_ref()
                            .map_or(block.referenced, |s| s.referenced),
                        "comparison.compare_with",
                        format!("\"{other}\" is not single_result or several_results"),
                    );
                    Some(1)
                }
            };
            let include = match c
                .include_result_with_score
                .as_ref()
                .map(|s| s.value.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("all") => IncludeResults::All,
                Some("pass") => IncludeResults::Pass,
                Some("pass_or_warn") => IncludeResults::PassOrWarn,
                Some(other) => {
                    problems.add(
                        c.include_result_with_score
                            .as_ref()
                            .map_or(start, |s| s.referenced),
                        "comparison.include_result_with_score",
                        format!("\"{other}\" is not pass, pass_or_warn or all"),
                    );
                    IncludeResults::All
                }
            };
            let aggregate = match c.aggregate_function.as_ref().map(|s| s.value.as_str()) {
                None | Some("avg") => Aggregate::Avg,
                Some("p50") => Aggregate::Percentile(0.5),
                Some("p90") => Aggregate::Percentile(0.9),
                Some("p95") => Aggregate::Percentile(0.95),
                Some(other) => {
                    // Keptn silently compares with 0 here, which fails open or closed at random.
                    problems.add(
                        c.aggregate_function
                            .as_ref()
                            .map_or(start, |s| s.referenced),
                        "comparison.aggregate_function",
                        format!("\"{other}\" is not avg, p50, p90 or p95"),
                    );
                    Aggregate::Avg
                }
            };
            Comparison {
                results,
                include,
                aggregate,
                require_baseline: c.require_baseline.unwrap_or(false),
            }
        }
    };

    let mut objectives = Vec::new();
    match &raw.objectives {
        None => problems.add(start, "objectives", "is missing: list the SLIs to judge"),
        Some(list) if list.value.iter().all(Option::is_none) => problems.add(
            list.referenced,
            "objectives",
            "is empty: list the SLIs to judge",
        ),
        Some(list) => {
            for (i, entry) in list.value.iter().enumerate() {
                let Some(entry) = entry else { continue };
                let path = format!("objectives[{i}]");
                let o = &entry.value;
                let Some(sli) = o.sli.as_ref().filter(|s| !s.value.trim().is_empty()) else {
                    problems.add(
                        entry.referenced,
                        format!("{path}.sli"),
                        "is missing: name the indicator of sli.yaml this objective judges",
                    );
                    continue;
                };
                if objectives
                    .iter()
                    .any(|seen: &Objective| seen.sli == sli.value)
                {
                    problems.add(
                        sli.referenced,
                        format!("{path}.sli"),
                        format!("\"{}\" is judged by an earlier objective already; Keptn would treat this one as missing", sli.value),
                    );
                }
                let weight = match &o.weight {
                    None => 1.0,
                    Some(w) if w.value.fract() != 0.0 || w.value < 0.0 => {
                        problems.add(
                            w.referenced,
                            format!("{path}.weight"),
                            format!("{} is not a whole number of 0 or more", w.value),
                        );
                        1.0
                    }
                    // Keptn's default: 0 counts as 1.
                    Some(w) if w.value == 0.0 => 1.0,
                    Some(w) => w.value,
                };
                objectives.push(Objective {
                    sli: sli.value.clone(),
                    display_name: o.display_name.clone().unwrap_or_default(),
                    pass: criteria_lists(
                        o.pass.as_deref().unwrap_or_default(),
                        &format!("{path}.pass"),
                        &mut problems,
                    ),
                    warning: criteria_lists(
                        o.warning.as_deref().unwrap_or_default(),
                        &format!("{path}.warning"),
                        &mut problems,
                    ),
                    weight,
                    key_sli: o.key_sli.unwrap_or(false),
                });
            }
        }
    }

    let (mut pass_score, mut warning_score) = (0.0, None);
    match &raw.total_score {
        None => problems.add(
            start,
            "total_score",
            "is missing: add `total_score: {pass: \"90%\", warning: \"75%\"}`",
        ),
        Some(total) => {
            match &total.value.pass {
                None => problems.add(
                    total.referenced,
                    "total_score.pass",
                    "is missing: the score a build needs to pass, e.g. \"90%\"",
                ),
                Some(p) => match percent(&p.value) {
                    Some(v) => pass_score = v,
                    None => problems.add(
                        p.referenced,
                        "total_score.pass",
                        format!("\"{}\" is not a percentage like \"90%\"", p.value),
                    ),
                },
            }
            if let Some(w) = &total.value.warning {
                match percent(&w.value) {
                    Some(v) => warning_score = Some(v),
                    None => problems.add(
                        w.referenced,
                        "total_score.warning",
                        format!("\"{}\" is not a percentage like \"75%\"", w.value),
                    ),
                }
            }
        }
    }

    problems.finish(
        file,
        Slo {
            spec_version: raw.spec_version.map(|s| s.value),
            filter: raw.filter.unwrap_or_default(),
            comparison,
            objectives,
            pass_score,
            warning_score,
        },
    )
}

/// Read and check an sli.yaml; `slo`, when given, must find each of its SLIs here.
pub fn parse_sli(file: &str, text: &str) -> Result<SliFile, FileErrors> {
    let raw: RawSli = yaml(file, text)?;
    let mut problems = Problems::default();
    let indicators = match raw.indicators {
        None => {
            problems.add(
                Location::UNKNOWN,
                "indicators",
                "is missing: map each SLI name to its query",
            );
            BTreeMap::new()
        }
        Some(map) => {
            for (name, query) in &map.value {
                if query.value.trim().is_empty() {
                    problems.add(
                        query.referenced,
                        format!("indicators.{name}"),
                        "has an empty query",
                    );
                }
            }
            map.value.into_iter().map(|(k, v)| (k, v.value)).collect()
        }
    };
    problems.finish(
        file,
        SliFile {
            spec_version: raw.spec_version,
            indicators,
        },
    )
}
