//! slo.yaml and sli.yaml as Keptn writes them (JSON is YAML too), read and checked. Every
//! problem names the file, line, column and path, and says how to fix it; a file with a
//! problem is not used (Keptn would skip a bad warning criterion, or pass without a file).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::criteria::{parse_criterion, Criterion};
use crate::yaml_file::{parse_yaml, ListOr, Loose, Problems};
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
    /// Where the objective's `sli` is written (line and column) and its path
    /// (`objectives[2]`), for messages about it after reading (a query sli.yaml lacks).
    pub line: u64,
    pub column: u64,
    pub path: String,
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
    number_of_comparison_results: Option<Spanned<Loose>>,
    aggregate_function: Option<Spanned<String>>,
    require_baseline: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    sli: Option<Spanned<String>>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    pass: Option<Spanned<ListOr<Spanned<RawCriteria>>>>,
    warning: Option<Spanned<ListOr<Spanned<RawCriteria>>>>,
    weight: Option<Spanned<Loose>>,
    key_sli: Option<Spanned<Loose>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriteria {
    criteria: Option<Spanned<ListOr<Spanned<String>>>>,
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

/// The slo.yaml versions Keptn wrote (`spec_version`).
pub const SLO_SPEC_VERSIONS: [&str; 3] = ["0.1.0", "0.1.1", "1.0"];

/// A criterion as the example of a fix: what was written, quoted, when it was text.
fn example_criterion(written: &Loose) -> String {
    match written {
        Loose::Text(t) if !t.trim().is_empty() => format!("\"{}\"", t.trim()),
        Loose::Number(n) => format!("\"<={n}\""),
        _ => "\"<=800\"".into(),
    }
}

fn criteria_lists(
    blocks: Option<&Spanned<ListOr<Spanned<RawCriteria>>>>,
    path: &str,
    problems: &mut Problems,
) -> Vec<Vec<Criterion>> {
    let mut lists = Vec::new();
    let blocks = match blocks.map(|b| (&b.value, b.referenced)) {
        None | Some((ListOr::Other(Loose::Null), _)) => return lists,
        Some((ListOr::List(blocks), _)) => blocks,
        Some((ListOr::Other(written), at)) => {
            problems.add(
                at,
                path,
                format!(
                    "{} is not a list: write a list of criteria blocks, e.g. `- criteria: [{}]` on the next line",
                    written.shown(),
                    example_criterion(written)
                ),
            );
            return lists;
        }
    };
    for (b, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{b}]");
        let Some(written) = &block.value.criteria else {
            problems.add(
                block.referenced,
                &block_path,
                "has no criteria: write `- criteria: [\"<=800\"]`",
            );
            continue;
        };
        let criteria = match &written.value {
            ListOr::List(criteria) => criteria,
            ListOr::Other(other) => {
                problems.add(
                    written.referenced,
                    format!("{block_path}.criteria"),
                    format!(
                        "{} is not a list: criteria must be a list, e.g. criteria: [{}]",
                        other.shown(),
                        example_criterion(other)
                    ),
                );
                continue;
            }
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
    read_slo(file, text, false)
}

/// [`parse_slo`], and what Keptn's specification requires that the pipeline still reads
/// without (files written before we checked it): `spec_version`. What `unbreakable slo lint`
/// and every command that takes an slo.yaml applies.
pub fn lint_slo(file: &str, text: &str) -> Result<Slo, FileErrors> {
    read_slo(file, text, true)
}

fn read_slo(file: &str, text: &str, strict: bool) -> Result<Slo, FileErrors> {
    let raw: RawSlo = yaml(file, text)?;
    let mut problems = Problems::default();

    check_spec_version(raw.spec_version.as_ref(), strict, &mut problems);
    let comparison = read_comparison(raw.comparison.as_ref(), &mut problems);
    let objectives = read_objectives(raw.objectives.as_ref(), &mut problems);
    let (pass_score, warning_score) = read_total_score(raw.total_score.as_ref(), &mut problems);

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

/// `spec_version`: a version Keptn wrote; required only when `strict` (lint).
fn check_spec_version(
    spec_version: Option<&Spanned<String>>,
    strict: bool,
    problems: &mut Problems,
) {
    match spec_version {
        None if strict => problems.add(
            Location::UNKNOWN,
            "spec_version",
            "is missing: start the file with `spec_version: \"1.0\"` (the slo.yaml version; Keptn's are \"0.1.0\" and \"1.0\")",
        ),
        Some(v) if !SLO_SPEC_VERSIONS.contains(&v.value.trim()) => problems.add(
            v.referenced,
            "spec_version",
            format!(
                "\"{}\" is not an slo.yaml version: write `spec_version: \"1.0\"` (Keptn's are \"0.1.0\" and \"1.0\")",
                v.value
            ),
        ),
        _ => {}
    }
}

/// The `comparison` block, or Keptn's default when it is absent.
fn read_comparison(block: Option<&Spanned<RawComparison>>, problems: &mut Problems) -> Comparison {
    let Some(block) = block else {
        // Keptn's default when the block is absent: the single newest evaluation, averaged.
        return Comparison {
            results: Some(1),
            include: IncludeResults::All,
            aggregate: Aggregate::Avg,
            require_baseline: false,
        };
    };
    let c = &block.value;
    let number = number_of_comparison_results(c, problems);
    let results = comparison_results(c, block.referenced, number, problems);
    let include = include_results(c, problems);
    let aggregate = aggregate_function(c, problems);
    Comparison {
        results,
        include,
        aggregate,
        require_baseline: c.require_baseline.unwrap_or(false),
    }
}

/// `number_of_comparison_results` as a whole number with its place, if written.
fn number_of_comparison_results(
    c: &RawComparison,
    problems: &mut Problems,
) -> Option<(i64, Location)> {
    match &c.number_of_comparison_results {
        None => None,
        Some(n) => match n.value {
            Loose::Null => None,
            Loose::Number(v) if v.fract() == 0.0 => Some((v as i64, n.referenced)),
            ref other => {
                problems.add(
                    n.referenced,
                    "comparison.number_of_comparison_results",
                    format!(
                        "{} is not a whole number: write how many earlier evaluations to compare with, e.g. number_of_comparison_results: 3",
                        other.shown()
                    ),
                );
                None
            }
        },
    }
}

/// How many earlier evaluations `compare_with` and its `number` ask for; `None` is all.
fn comparison_results(
    c: &RawComparison,
    block_at: Location,
    number: Option<(i64, Location)>,
    problems: &mut Problems,
) -> Option<usize> {
    match c.compare_with.as_ref().map(|s| s.value.as_str()) {
        Some("single_result") => Some(1),
        Some("several_results") => match number {
            None => Some(3),
            Some((0, at)) => {
                // Keptn quietly compares with 3 here; 0 says "with nothing".
                problems.add(
                    at,
                    "comparison.number_of_comparison_results",
                    "0 compares with no earlier evaluation: several_results needs 1 or more (e.g. 3), or -1 for every earlier evaluation; for one, write compare_with: single_result",
                );
                Some(3)
            }
            Some((n, _)) if n < 0 => None,
            Some((n, _)) => Some(n as usize),
        },
        // Keptn compares with 3 when compare_with is missing from a present block.
        None => Some(3),
        Some(other) => {
            problems.add(
                c.compare_with.as_ref().map_or(block_at, |s| s.referenced),
                "comparison.compare_with",
                format!("\"{other}\" is not single_result or several_results"),
            );
            Some(1)
        }
    }
}

fn include_results(c: &RawComparison, problems: &mut Problems) -> IncludeResults {
    match c
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
                    .map_or(Location::UNKNOWN, |s| s.referenced),
                "comparison.include_result_with_score",
                format!("\"{other}\" is not pass, pass_or_warn or all"),
            );
            IncludeResults::All
        }
    }
}

fn aggregate_function(c: &RawComparison, problems: &mut Problems) -> Aggregate {
    match c.aggregate_function.as_ref().map(|s| s.value.as_str()) {
        None | Some("avg") => Aggregate::Avg,
        Some("p50") => Aggregate::Percentile(0.5),
        Some("p90") => Aggregate::Percentile(0.9),
        Some("p95") => Aggregate::Percentile(0.95),
        Some(other) => {
            // Keptn silently compares with 0 here, which fails open or closed at random.
            problems.add(
                c.aggregate_function
                    .as_ref()
                    .map_or(Location::UNKNOWN, |s| s.referenced),
                "comparison.aggregate_function",
                format!("\"{other}\" is not avg, p50, p90 or p95"),
            );
            Aggregate::Avg
        }
    }
}

/// The `objectives` list; an entry without an `sli` is reported and left out.
fn read_objectives(
    list: Option<&Spanned<Vec<Option<Spanned<RawObjective>>>>>,
    problems: &mut Problems,
) -> Vec<Objective> {
    let mut objectives = Vec::new();
    match list {
        None => problems.add(
            Location::UNKNOWN,
            "objectives",
            "is missing: list the SLIs to judge",
        ),
        Some(list) if list.value.iter().all(Option::is_none) => problems.add(
            list.referenced,
            "objectives",
            "is empty: list the SLIs to judge",
        ),
        Some(list) => {
            for (i, entry) in list.value.iter().enumerate() {
                let Some(entry) = entry else { continue };
                if let Some(objective) = read_objective(i, entry, &objectives, problems) {
                    objectives.push(objective);
                }
            }
        }
    }
    objectives
}

/// One objective, checked against the `earlier` ones for a repeated SLI.
fn read_objective(
    i: usize,
    entry: &Spanned<RawObjective>,
    earlier: &[Objective],
    problems: &mut Problems,
) -> Option<Objective> {
    let path = format!("objectives[{i}]");
    let o = &entry.value;
    let Some(sli) = o.sli.as_ref().filter(|s| !s.value.trim().is_empty()) else {
        problems.add(
            entry.referenced,
            format!("{path}.sli"),
            "is missing: name the indicator of sli.yaml this objective judges",
        );
        return None;
    };
    if earlier.iter().any(|seen| seen.sli == sli.value) {
        problems.add(
            sli.referenced,
            format!("{path}.sli"),
            format!("\"{}\" is judged by an earlier objective already; Keptn would treat this one as missing", sli.value),
        );
    }
    let weight = objective_weight(o.weight.as_ref(), &path, problems);
    let key_sli = objective_key_sli(o.key_sli.as_ref(), &path, problems);
    let pass = criteria_lists(o.pass.as_ref(), &format!("{path}.pass"), problems);
    let warning = criteria_lists(o.warning.as_ref(), &format!("{path}.warning"), problems);
    Some(Objective {
        sli: sli.value.clone(),
        display_name: o.display_name.clone().unwrap_or_default(),
        pass,
        warning,
        weight,
        key_sli,
        line: sli.referenced.line(),
        column: sli.referenced.column(),
        path,
    })
}

fn objective_weight(weight: Option<&Spanned<Loose>>, path: &str, problems: &mut Problems) -> f64 {
    match weight.map(|w| (&w.value, w.referenced)) {
        None | Some((Loose::Null, _)) => 1.0,
        Some((Loose::Number(w), at)) if w.fract() != 0.0 || *w < 0.0 => {
            problems.add(
                at,
                format!("{path}.weight"),
                format!("{w} is not a whole number of 0 or more"),
            );
            1.0
        }
        // Keptn's default: 0 counts as 1.
        Some((Loose::Number(w), _)) if *w == 0.0 => 1.0,
        Some((Loose::Number(w), _)) => *w,
        Some((other, at)) => {
            problems.add(
                at,
                format!("{path}.weight"),
                format!("{} is not a number; write e.g. weight: 2", other.shown()),
            );
            1.0
        }
    }
}

fn objective_key_sli(
    key_sli: Option<&Spanned<Loose>>,
    path: &str,
    problems: &mut Problems,
) -> bool {
    match key_sli.map(|k| (&k.value, k.referenced)) {
        None | Some((Loose::Null, _)) => false,
        Some((Loose::Bool(b), _)) => *b,
        Some((other, at)) => {
            problems.add(
                at,
                format!("{path}.key_sli"),
                format!(
                    "{} is not true or false; write key_sli: true",
                    other.shown()
                ),
            );
            false
        }
    }
}

/// `total_score`: the pass threshold (0 when unusable) and the optional warning one.
fn read_total_score(
    total: Option<&Spanned<RawTotalScore>>,
    problems: &mut Problems,
) -> (f64, Option<f64>) {
    let Some(total) = total else {
        problems.add(
            Location::UNKNOWN,
            "total_score",
            "is missing: add `total_score: {pass: \"90%\", warning: \"75%\"}`",
        );
        return (0.0, None);
    };
    let pass_score = match &total.value.pass {
        None => {
            problems.add(
                total.referenced,
                "total_score.pass",
                "is missing: the score a build needs to pass, e.g. \"90%\"",
            );
            None
        }
        Some(p) => score_threshold(p, "total_score.pass", "90%", problems),
    };
    let warning_score = total
        .value
        .warning
        .as_ref()
        .and_then(|w| score_threshold(w, "total_score.warning", "75%", problems));
    (pass_score.unwrap_or(0.0), warning_score)
}

/// One threshold of `total_score` as a percentage of 0 to 100; `example` is shown in a fix.
fn score_threshold(
    written: &Spanned<String>,
    path: &str,
    example: &str,
    problems: &mut Problems,
) -> Option<f64> {
    match percent(&written.value) {
        Some(v) if !(0.0..=100.0).contains(&v) => {
            problems.add(
                written.referenced,
                path,
                format!(
                    "\"{}\" is not between 0% and 100%: the score is the share of the objectives' weight that passed; write e.g. \"{example}\"",
                    written.value
                ),
            );
            None
        }
        Some(v) => Some(v),
        None => {
            problems.add(
                written.referenced,
                path,
                format!(
                    "\"{}\" is not a percentage like \"{example}\"",
                    written.value
                ),
            );
            None
        }
    }
}

/// Every objective of `slo` whose SLI has no query in `sli`, as problems of the slo.yaml at
/// the objective's place: such a pair fails every evaluation (as the pipeline's register
/// refuses it), so lint and apply refuse it first.
pub fn missing_queries(
    slo_file: &str,
    slo: &Slo,
    sli_file: &str,
    sli: &SliFile,
) -> Result<(), FileErrors> {
    let known = if sli.indicators.is_empty() {
        "it has none".to_string()
    } else {
        format!(
            "it has {}",
            sli.indicators
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut problems = Problems::default();
    for o in slo
        .objectives
        .iter()
        .filter(|o| !sli.indicators.contains_key(&o.sli))
    {
        problems.list.push(FileProblem {
            line: o.line.max(1),
            column: o.column.max(1),
            path: format!("{}.sli", o.path),
            message: format!(
                "\"{}\" has no query in {sli_file} ({known}): add `{}: <query>` under its indicators, or correct the name",
                o.sli, o.sli
            ),
        });
    }
    problems.finish(slo_file, ())
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
