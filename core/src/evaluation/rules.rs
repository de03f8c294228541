//! The rule for one signature: given its measured source value and (maybe) a baseline, decide
//! pass / violation / nodata / error, with every number and a reason a person can read.

use serde::Serialize;

use crate::model::metrics::{MeasuredValue, Measurement, Unit};
use crate::monspec::{Direction, MissingDataPolicy, Signature};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Violation,
    NoData,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Violation => "violation",
            Outcome::NoData => "nodata",
            Outcome::Error => "error",
        }
    }
}

/// The baseline a relative check compares against.
#[derive(Debug, Clone, Copy)]
pub struct Baseline<'a> {
    pub environment: &'a str,
    pub measurement: &'a Measurement,
}

/// Everything the rule needs besides the numbers.
#[derive(Debug, Clone)]
pub struct RuleInput<'a> {
    pub signature: &'a Signature,
    /// e.g. "p90 response time" or "/api/invoke: avg failure rate".
    pub label: &'a str,
    pub unit: Unit,
    /// Tolerance in percent for relative checks.
    pub scale_factor_perc: f64,
    pub policy: MissingDataPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub outcome: Outcome,
    pub upper_limit: Option<f64>,
    pub lower_limit: Option<f64>,
    /// Whether this signature stops the build from being approved.
    pub blocks_approval: bool,
    /// Set when the outcome is nodata under policy `warn`.
    pub warning: Option<String>,
    pub reason: String,
    /// The values the decision used (for a spread, the end that errs safe).
    pub source_value: Option<f64>,
    pub compare_value: Option<f64>,
    /// How a value was chosen when it was not the API's merged value.
    pub notes: Vec<String>,
}

/// Which end of a spread of per-entity values a check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Largest,
    Smallest,
}

/// The value of `m` at `end`, and a note when it came from a spread. `whose` names it in the
/// note ("source", "baseline Production").
fn pick(m: &MeasuredValue, end: End, whose: &str, input: &RuleInput<'_>) -> (f64, Option<String>) {
    let Some(spread) = m.spread else {
        return (m.value, None);
    };
    let (value, word) = match end {
        End::Largest => (spread.max, "largest"),
        End::Smallest => (spread.min, "smallest"),
    };
    let show = |v: f64| input.unit.display(v);
    let note = format!(
        "{whose}: {} over {} entities has no merged value (per entity {} to {}); the {word}, {}, is used because it errs toward rejecting",
        input.label,
        m.entities,
        show(spread.min),
        show(spread.max),
        show(value),
    );
    (value, Some(note))
}

/// Judge one signature.
///
/// - Static limits (`upperlimit`/`lowerlimit`): every limit that is set applies, strictly:
///   pass iff value < upperlimit and value > lowerlimit.
/// - Otherwise relative to the baseline with tolerance `sf`:
///   upper: limit = compare × (1 + sf/100), pass iff source ≤ limit;
///   lower: limit = compare × (1 − sf/100), pass iff source ≥ limit.
/// - Missing data is an outcome (`nodata`), never a pass; a failed query is `error`.
pub fn judge(
    input: &RuleInput<'_>,
    source: &Measurement,
    baseline: Option<Baseline<'_>>,
) -> Judgement {
    let source = match source {
        Measurement::Value(v) => v,
        Measurement::NoData { reason } => return missing(input, format!("no data: {reason}")),
        Measurement::Error { message } => return failed(format!("query failed: {message}")),
    };
    if input.signature.has_static_limits() {
        return judge_static(input, source);
    }
    judge_relative(input, source, baseline)
}

/// The static limits: every limit that is set applies, strictly.
fn judge_static(input: &RuleInput<'_>, source: &MeasuredValue) -> Judgement {
    let sig = input.signature;
    // Without a merged value, each limit is checked against the end nearest to it.
    let (high, high_note) = pick(source, End::Largest, "source", input);
    let (low, low_note) = pick(source, End::Smallest, "source", input);
    let above_lower = sig.lower_limit.is_none_or(|l| low > l);
    let below_upper = sig.upper_limit.is_none_or(|u| high < u);
    let pass = above_lower && below_upper;
    let reason = static_reason(input, low, high, above_lower, below_upper);
    let (used, note) = if !below_upper || (above_lower && sig.upper_limit.is_some()) {
        (high, high_note)
    } else {
        (low, low_note)
    };
    Judgement {
        outcome: if pass {
            Outcome::Pass
        } else {
            Outcome::Violation
        },
        upper_limit: sig.upper_limit,
        lower_limit: sig.lower_limit,
        blocks_approval: !pass,
        warning: None,
        reason,
        source_value: Some(used),
        compare_value: None,
        notes: note.into_iter().collect(),
    }
}

/// Why the static limits held, or which one did not, with the end of the source it used.
fn static_reason(
    input: &RuleInput<'_>,
    low: f64,
    high: f64,
    above_lower: bool,
    below_upper: bool,
) -> String {
    let sig = input.signature;
    let show = |v: f64| input.unit.display(v);
    let pass = above_lower && below_upper;
    let shown = if high == low {
        show(high)
    } else {
        format!("{} to {}", show(low), show(high))
    };
    match (sig.lower_limit, sig.upper_limit) {
        (Some(l), Some(u)) if pass => format!(
            "{} {shown} within static limits ({}, {})",
            input.label,
            show(l),
            show(u)
        ),
        (Some(l), _) if !above_lower => format!(
            "{} {} ≤ static lowerlimit {}",
            input.label,
            show(low),
            show(l)
        ),
        (_, Some(u)) if !below_upper => format!(
            "{} {} ≥ static upperlimit {}",
            input.label,
            show(high),
            show(u)
        ),
        (Some(l), None) => format!(
            "{} {} > static lowerlimit {}",
            input.label,
            show(low),
            show(l)
        ),
        (_, Some(u)) => format!(
            "{} {} < static upperlimit {}",
            input.label,
            show(high),
            show(u)
        ),
        (None, None) => unreachable!("has_static_limits"),
    }
}

/// A limit relative to the baseline: the source's and the baseline's values, or why not.
fn judge_relative(
    input: &RuleInput<'_>,
    source: &MeasuredValue,
    baseline: Option<Baseline<'_>>,
) -> Judgement {
    // A spread errs safe at the end that makes the check hardest to pass: for `upper` the
    // largest source against the smallest baseline, for `lower` the reverse.
    let (source_end, baseline_end) = match input.signature.validate {
        Direction::Upper => (End::Largest, End::Smallest),
        Direction::Lower => (End::Smallest, End::Largest),
    };
    let (source_value, source_note) = pick(source, source_end, "source", input);
    let with_source = |mut j: Judgement| {
        j.source_value = Some(source_value);
        j.notes.extend(source_note.clone());
        j
    };

    let Some(baseline) = baseline else {
        // The monspec validator refuses this combination; stay closed if it ever gets here.
        return with_source(failed(format!(
            "{}: no static limit and no compare environment to derive one from",
            input.label
        )));
    };
    let (compare_value, compare_note) = match baseline.measurement {
        Measurement::Value(v) => pick(
            v,
            baseline_end,
            &format!("baseline {}", baseline.environment),
            input,
        ),
        Measurement::NoData { reason } => {
            return with_source(missing(
                input,
                format!(
                    "no baseline: {} has no data ({reason})",
                    baseline.environment
                ),
            ));
        }
        Measurement::Error { message } => {
            return with_source(failed(format!(
                "baseline query on {} failed: {message}",
                baseline.environment
            )));
        }
    };
    compare_with_baseline(
        input,
        baseline.environment,
        source_value,
        compare_value,
        source_note.into_iter().chain(compare_note).collect(),
    )
}

/// The source against the baseline's value with tolerance `sf`, in the signature's direction.
fn compare_with_baseline(
    input: &RuleInput<'_>,
    environment: &str,
    source_value: f64,
    compare_value: f64,
    notes: Vec<String>,
) -> Judgement {
    let show = |v: f64| input.unit.display(v);
    let sf = input.scale_factor_perc;
    let (limit, pass, op_fail, op_pass, sign) = match input.signature.validate {
        Direction::Upper => {
            // × (100 ± sf) / 100 rather than × (1 ± sf/100): 900 × (1 − 0.9) is 89.999…, which
            // would reject a build sitting exactly on the limit.
            let limit = compare_value * (100.0 + sf) / 100.0;
            (limit, source_value <= limit, ">", "≤", "+")
        }
        Direction::Lower => {
            let limit = compare_value * (100.0 - sf) / 100.0;
            (limit, source_value >= limit, "<", "≥", "−")
        }
    };
    let reason = format!(
        "{} {} {} limit {} ({} {} {} {}%)",
        input.label,
        show(source_value),
        if pass { op_pass } else { op_fail },
        show(limit),
        environment,
        show(compare_value),
        sign,
        trim_number(sf),
    );
    let (upper_limit, lower_limit) = match input.signature.validate {
        Direction::Upper => (Some(limit), None),
        Direction::Lower => (None, Some(limit)),
    };
    Judgement {
        outcome: if pass {
            Outcome::Pass
        } else {
            Outcome::Violation
        },
        upper_limit,
        lower_limit,
        blocks_approval: !pass,
        warning: None,
        reason,
        source_value: Some(source_value),
        compare_value: Some(compare_value),
        notes,
    }
}

fn missing(input: &RuleInput<'_>, what: String) -> Judgement {
    let (blocks, warning, consequence) = match input.policy {
        MissingDataPolicy::Fail => (true, None, "blocks approval (onmissingdata: fail)"),
        MissingDataPolicy::Warn => (
            false,
            Some(format!("{}: {what}", input.label)),
            "warning only (onmissingdata: warn)",
        ),
        MissingDataPolicy::Pass => (false, None, "accepted (onmissingdata: pass)"),
    };
    Judgement {
        outcome: Outcome::NoData,
        upper_limit: None,
        lower_limit: None,
        blocks_approval: blocks,
        warning,
        reason: format!("{}: {what}; {consequence}", input.label),
        source_value: None,
        compare_value: None,
        notes: vec![],
    }
}

fn failed(message: String) -> Judgement {
    Judgement {
        outcome: Outcome::Error,
        upper_limit: None,
        lower_limit: None,
        blocks_approval: true,
        warning: None,
        reason: message,
        source_value: None,
        compare_value: None,
        notes: vec![],
    }
}

fn trim_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monspec::{Aggregate, SignatureSubject};

    fn sig(validate: Direction, upper: Option<f64>, lower: Option<f64>) -> Signature {
        Signature {
            subject: SignatureSubject::Timeseries(
                "com.dynatrace.builtin:service.responsetime".into(),
            ),
            aggregate: Aggregate::Percentile(90),
            validate,
            upper_limit: upper,
            lower_limit: lower,
            on_missing_data: None,
        }
    }

    fn value(v: f64) -> Measurement {
        Measurement::Value(MeasuredValue::new(v, Unit::Microseconds, 1))
    }

    /// A p90 over two entities without a merged value.
    fn spread(min: f64, max: f64) -> Measurement {
        Measurement::Value(MeasuredValue {
            spread: Some(crate::model::metrics::Spread { min, max }),
            ..MeasuredValue::new(max, Unit::Microseconds, 2)
        })
    }

    fn run(
        signature: &Signature,
        sf: f64,
        policy: MissingDataPolicy,
        source: Measurement,
        compare: Option<Measurement>,
    ) -> Judgement {
        let input = RuleInput {
            signature,
            label: "p90 response time",
            unit: Unit::Microseconds,
            scale_factor_perc: sf,
            policy,
        };
        let baseline = compare.as_ref().map(|m| Baseline {
            environment: "Production",
            measurement: m,
        });
        judge(&input, &source, baseline)
    }

    struct Case {
        name: &'static str,
        signature: Signature,
        sf: f64,
        source: Measurement,
        compare: Option<Measurement>,
        policy: MissingDataPolicy,
        outcome: Outcome,
        blocks: bool,
        upper: Option<f64>,
        lower: Option<f64>,
        reason: &'static str,
    }

    #[test]
    fn rule_table() {
        use MissingDataPolicy::{Fail, Warn};
        use Outcome::{Error, NoData, Pass, Violation};
        const LENIENT: MissingDataPolicy = MissingDataPolicy::Pass;
        let upper = sig(Direction::Upper, None, None);
        let lower = sig(Direction::Lower, None, None);
        let cases = [
            Case { name: "upper: over the tolerance band is a violation", signature: upper.clone(), sf: 30.0, source: value(812_000.0), compare: Some(value(500_000.0)), policy: Fail, outcome: Violation, blocks: true, upper: Some(650_000.0), lower: None, reason: "p90 response time 812 ms > limit 650 ms (Production 500 ms + 30%)" },
            Case { name: "upper: exactly on the limit passes (inclusive)", signature: upper.clone(), sf: 30.0, source: value(650_000.0), compare: Some(value(500_000.0)), policy: Fail, outcome: Pass, blocks: false, upper: Some(650_000.0), lower: None, reason: "p90 response time 650 ms ≤ limit 650 ms (Production 500 ms + 30%)" },
            Case { name: "baseline 0: any positive source violates", signature: upper.clone(), sf: 50.0, source: value(1.0), compare: Some(value(0.0)), policy: Fail, outcome: Violation, blocks: true, upper: Some(0.0), lower: None, reason: "p90 response time 0.001 ms > limit 0 ms (Production 0 ms + 50%)" },
            Case { name: "baseline 0: a zero source passes", signature: upper.clone(), sf: 50.0, source: value(0.0), compare: Some(value(0.0)), policy: Fail, outcome: Pass, blocks: false, upper: Some(0.0), lower: None, reason: "p90 response time 0 ms ≤ limit 0 ms (Production 0 ms + 50%)" },
            Case { name: "lower: under the band is a violation", signature: lower.clone(), sf: 10.0, source: value(800_000.0), compare: Some(value(1_000_000.0)), policy: Fail, outcome: Violation, blocks: true, upper: None, lower: Some(900_000.0), reason: "p90 response time 800 ms < limit 900 ms (Production 1000 ms − 10%)" },
            Case { name: "lower: inside the band passes", signature: lower.clone(), sf: 10.0, source: value(950_000.0), compare: Some(value(1_000_000.0)), policy: Fail, outcome: Pass, blocks: false, upper: None, lower: Some(900_000.0), reason: "p90 response time 950 ms ≥ limit 900 ms (Production 1000 ms − 10%)" },
            Case { name: "no tolerance: sf 0 means equal or better", signature: upper.clone(), sf: 0.0, source: value(500_001.0), compare: Some(value(500_000.0)), policy: Fail, outcome: Violation, blocks: true, upper: Some(500_000.0), lower: None, reason: "p90 response time 500 ms > limit 500 ms (Production 500 ms + 0%)" },
            Case { name: "both limits: inside passes", signature: sig(Direction::Upper, Some(700_000.0), Some(100_000.0)), sf: 0.0, source: value(400_000.0), compare: None, policy: Fail, outcome: Pass, blocks: false, upper: Some(700_000.0), lower: Some(100_000.0), reason: "p90 response time 400 ms within static limits (100 ms, 700 ms)" },
            Case { name: "both limits: the upper still applies when a lower is set", signature: sig(Direction::Upper, Some(700_000.0), Some(100_000.0)), sf: 0.0, source: value(800_000.0), compare: None, policy: Fail, outcome: Violation, blocks: true, upper: Some(700_000.0), lower: Some(100_000.0), reason: "p90 response time 800 ms ≥ static upperlimit 700 ms" },
            Case { name: "both limits: below the lower violates", signature: sig(Direction::Upper, Some(700_000.0), Some(100_000.0)), sf: 0.0, source: value(50_000.0), compare: None, policy: Fail, outcome: Violation, blocks: true, upper: Some(700_000.0), lower: Some(100_000.0), reason: "p90 response time 50 ms ≤ static lowerlimit 100 ms" },
            Case { name: "static limits are strict", signature: sig(Direction::Upper, Some(700_000.0), None), sf: 0.0, source: value(700_000.0), compare: None, policy: Fail, outcome: Violation, blocks: true, upper: Some(700_000.0), lower: None, reason: "p90 response time 700 ms ≥ static upperlimit 700 ms" },
            Case { name: "static limits ignore a missing baseline", signature: sig(Direction::Upper, Some(700_000.0), None), sf: 0.0, source: value(100_000.0), compare: Some(Measurement::no_data("nothing")), policy: Fail, outcome: Pass, blocks: false, upper: Some(700_000.0), lower: None, reason: "p90 response time 100 ms < static upperlimit 700 ms" },
            Case { name: "no source data fails closed by default", signature: upper.clone(), sf: 10.0, source: Measurement::no_data("no datapoints in the window"), compare: Some(value(1.0)), policy: Fail, outcome: NoData, blocks: true, upper: None, lower: None, reason: "p90 response time: no data: no datapoints in the window; blocks approval (onmissingdata: fail)" },
            Case { name: "no entities fails closed", signature: upper.clone(), sf: 10.0, source: Measurement::no_data("no entity matched the tags DeploymentGroup:Staging"), compare: Some(value(1.0)), policy: Fail, outcome: NoData, blocks: true, upper: None, lower: None, reason: "p90 response time: no data: no entity matched the tags DeploymentGroup:Staging; blocks approval (onmissingdata: fail)" },
            Case { name: "a compare environment without data fails closed", signature: upper.clone(), sf: 10.0, source: value(1.0), compare: Some(Measurement::no_data("no datapoints in the window")), policy: Fail, outcome: NoData, blocks: true, upper: None, lower: None, reason: "p90 response time: no baseline: Production has no data (no datapoints in the window); blocks approval (onmissingdata: fail)" },
            Case { name: "policy warn lets missing data through with a warning", signature: upper.clone(), sf: 10.0, source: Measurement::no_data("no datapoints in the window"), compare: Some(value(1.0)), policy: Warn, outcome: NoData, blocks: false, upper: None, lower: None, reason: "p90 response time: no data: no datapoints in the window; warning only (onmissingdata: warn)" },
            Case { name: "policy pass is the original's leniency, still reported as nodata", signature: upper.clone(), sf: 10.0, source: value(5.0), compare: Some(Measurement::no_data("x")), policy: LENIENT, outcome: NoData, blocks: false, upper: None, lower: None, reason: "p90 response time: no baseline: Production has no data (x); accepted (onmissingdata: pass)" },
            Case { name: "a failed query is an error whatever the policy", signature: upper.clone(), sf: 10.0, source: Measurement::error("HTTP 500"), compare: Some(value(1.0)), policy: LENIENT, outcome: Error, blocks: true, upper: None, lower: None, reason: "query failed: HTTP 500" },
            Case { name: "upper without a merged value: the largest source against the smallest baseline", signature: upper.clone(), sf: 10.0, source: spread(100_000.0, 150_000.0), compare: Some(spread(100_000.0, 1_000_000.0)), policy: Fail, outcome: Violation, blocks: true, upper: Some(110_000.0), lower: None, reason: "p90 response time 150 ms > limit 110 ms (Production 100 ms + 10%)" },
            Case { name: "lower without a merged value: the smallest source against the largest baseline", signature: lower.clone(), sf: 10.0, source: spread(80_000.0, 200_000.0), compare: Some(spread(100_000.0, 120_000.0)), policy: Fail, outcome: Violation, blocks: true, upper: None, lower: Some(108_000.0), reason: "p90 response time 80 ms < limit 108 ms (Production 120 ms − 10%)" },
            Case { name: "static upperlimit without a merged value: the largest must be below", signature: sig(Direction::Upper, Some(700_000.0), None), sf: 0.0, source: spread(100_000.0, 800_000.0), compare: None, policy: Fail, outcome: Violation, blocks: true, upper: Some(700_000.0), lower: None, reason: "p90 response time 800 ms ≥ static upperlimit 700 ms" },
            Case { name: "static limits without a merged value: the smallest must be above the lower", signature: sig(Direction::Upper, Some(700_000.0), Some(100_000.0)), sf: 0.0, source: spread(50_000.0, 600_000.0), compare: None, policy: Fail, outcome: Violation, blocks: true, upper: Some(700_000.0), lower: Some(100_000.0), reason: "p90 response time 50 ms ≤ static lowerlimit 100 ms" },
            Case { name: "static limits without a merged value: both ends inside pass", signature: sig(Direction::Upper, Some(700_000.0), Some(100_000.0)), sf: 0.0, source: spread(200_000.0, 600_000.0), compare: None, policy: Fail, outcome: Pass, blocks: false, upper: Some(700_000.0), lower: Some(100_000.0), reason: "p90 response time 200 ms to 600 ms within static limits (100 ms, 700 ms)" },
            Case { name: "a failed baseline query is an error", signature: upper.clone(), sf: 10.0, source: value(1.0), compare: Some(Measurement::error("timeout")), policy: LENIENT, outcome: Error, blocks: true, upper: None, lower: None, reason: "baseline query on Production failed: timeout" },
        ];
        for case in cases {
            let j = run(
                &case.signature,
                case.sf,
                case.policy,
                case.source,
                case.compare,
            );
            assert_eq!(j.outcome, case.outcome, "{}", case.name);
            assert_eq!(j.blocks_approval, case.blocks, "{}", case.name);
            assert_eq!(
                (j.upper_limit, j.lower_limit),
                (case.upper, case.lower),
                "{}",
                case.name
            );
            assert_eq!(j.reason, case.reason, "{}", case.name);
        }
    }

    #[test]
    fn a_bound_used_for_a_missing_merged_value_is_recorded_with_a_note() {
        let j = run(
            &sig(Direction::Upper, None, None),
            10.0,
            MissingDataPolicy::Fail,
            spread(100_000.0, 150_000.0),
            Some(spread(100_000.0, 1_000_000.0)),
        );
        assert_eq!(
            (j.source_value, j.compare_value),
            (Some(150_000.0), Some(100_000.0))
        );
        assert_eq!(j.notes, [
            "source: p90 response time over 2 entities has no merged value (per entity 100 ms to 150 ms); the largest, 150 ms, is used because it errs toward rejecting",
            "baseline Production: p90 response time over 2 entities has no merged value (per entity 100 ms to 1000 ms); the smallest, 100 ms, is used because it errs toward rejecting",
        ]);
        let exact = run(
            &sig(Direction::Upper, None, None),
            10.0,
            MissingDataPolicy::Fail,
            value(1.0),
            Some(value(2.0)),
        );
        assert!(exact.notes.is_empty());
    }

    #[test]
    fn warn_policy_records_a_warning() {
        let s = sig(Direction::Upper, None, None);
        let j = run(
            &s,
            0.0,
            MissingDataPolicy::Warn,
            Measurement::no_data("empty"),
            Some(value(1.0)),
        );
        assert_eq!(
            j.warning.as_deref(),
            Some("p90 response time: no data: empty")
        );
    }
}
