//! The run's score from its metrics' classifications: Kayenta's WeightedSumScorer and
//! ThresholdScoreClassifier (the spec's §2 and §3.4), with groups in first-appearance order.

use std::collections::BTreeMap;

use serde::Serialize;

use super::classify::{Classification, MetricResult};
use super::config::ScoreThresholds;

/// The run's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    Pass,
    Marginal,
    Fail,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Pass => "pass",
            RunResult::Marginal => "marginal",
            RunResult::Fail => "fail",
        }
    }
}

/// One group: 100·pass/(pass + high + low + nodata_fail) of its scored metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScore {
    pub name: String,
    /// 0 when the group has no data.
    pub score: f64,
    /// None of its scored metrics is pass, high, low or nodata_fail: it scores 0 here but
    /// counts as 100 in the run's score (Kayenta's rule).
    pub no_data: bool,
}

/// What the scorer needs of a metric's judgement.
#[derive(Debug, Clone, Copy)]
pub struct Scored<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
    pub classification: Classification,
    pub critical: bool,
    pub muted: bool,
}

impl MetricResult {
    pub fn scored(&self) -> Scored<'_> {
        Scored {
            name: &self.name,
            groups: &self.groups,
            classification: self.classification,
            critical: self.critical,
            muted: self.muted,
        }
    }
}

/// The run's score, why it was forced to 0 (if it was), and the groups' scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub reason: Option<String>,
    pub groups: Vec<GroupScore>,
}

/// Kayenta's threshold below which the nodata share zeroes the score: 50 %.
const NODATA_PERCENT: f64 = 50.0;

/// Score the non-muted metrics: each group's share of passes; the run's score the weighted
/// sum (groups without a weight share 100 − Σ weights equally), rounded half-up to 2
/// decimals. 0 when a scored metric is critical, when half or more of the scored metrics have
/// no data, or when no metric is scored.
pub fn score<'a>(
    metrics: impl IntoIterator<Item = Scored<'a>>,
    weights: &BTreeMap<String, f64>,
) -> Score {
    let scored: Vec<Scored<'a>> = metrics.into_iter().filter(|m| !m.muted).collect();
    // (name, passes, counted), in first-appearance order.
    let mut tallies: Vec<(&str, u32, u32)> = Vec::new();
    for m in &scored {
        for group in m.groups {
            let i = match tallies
                .iter()
                .position(|(name, _, _)| *name == group.as_str())
            {
                Some(i) => i,
                None => {
                    tallies.push((group.as_str(), 0, 0));
                    tallies.len() - 1
                }
            };
            match m.classification {
                Classification::Pass => {
                    tallies[i].1 += 1;
                    tallies[i].2 += 1;
                }
                Classification::High | Classification::Low | Classification::NodataFail => {
                    tallies[i].2 += 1;
                }
                Classification::Nodata => {}
            }
        }
    }
    let groups: Vec<GroupScore> = tallies
        .iter()
        .map(|&(name, passes, counted)| GroupScore {
            name: name.to_string(),
            score: if counted == 0 {
                0.0
            } else {
                passes as f64 / counted as f64 * 100.0
            },
            no_data: counted == 0,
        })
        .collect();
    let zero = |reason: String| Score {
        score: 0.0,
        reason: Some(reason),
        groups: groups.clone(),
    };
    if scored.is_empty() {
        return zero(
            "no metric is scored (every metric is muted, or the config has none): the score is 0"
                .into(),
        );
    }
    if let Some(m) = scored
        .iter()
        .find(|m| m.critical && m.classification != Classification::Pass)
    {
        return zero(format!(
            "critical metric {} is {}: the score is 0",
            m.name,
            m.classification.as_str()
        ));
    }
    let nodata = scored
        .iter()
        .filter(|m| m.classification == Classification::Nodata)
        .count();
    if nodata as f64 / scored.len() as f64 * 100.0 >= NODATA_PERCENT {
        return zero(format!(
            "{nodata} of {} scored metrics have no data (50 % or more): the score is 0",
            scored.len()
        ));
    }
    let weight_sum: f64 = weights.values().sum();
    let unweighted = groups
        .iter()
        .filter(|g| !weights.contains_key(&g.name))
        .count();
    let shared = if unweighted > 0 {
        (100.0 - weight_sum) / unweighted as f64
    } else {
        0.0
    };
    let total: f64 = groups
        .iter()
        .map(|g| {
            let effective = if g.no_data { 100.0 } else { g.score };
            effective * (weights.get(&g.name).copied().unwrap_or(shared) / 100.0)
        })
        .sum();
    Score {
        score: round_half_up(total, 2),
        reason: None,
        groups,
    }
}

/// `value` rounded half away from zero at `decimals` decimals, on its shortest decimal
/// representation, as Apache Commons Math's `Precision.round` does through
/// `new BigDecimal(Double.toString(x))`: 66.665 is 66.67, although the double nearest to it
/// is a little below.
pub fn round_half_up(value: f64, decimals: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let text = format!("{}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    if fraction.len() <= decimals {
        return value;
    }
    // The kept digits as one integer, plus one when the first dropped digit is 5 or more.
    let mut digits: Vec<u8> = format!("{whole}{}", &fraction[..decimals]).into_bytes();
    if fraction.as_bytes()[decimals] >= b'5' {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - decimals;
    let text = format!(
        "{}.{}",
        String::from_utf8_lossy(&digits[..split]),
        String::from_utf8_lossy(&digits[split..])
    );
    let rounded: f64 = text.parse().unwrap_or(value.abs());
    rounded.copysign(value)
}

/// `pass` from the pass threshold up, `marginal` from the marginal one, else `fail`.
pub fn result_of(score: f64, thresholds: ScoreThresholds) -> RunResult {
    if score >= thresholds.pass {
        RunResult::Pass
    } else if score >= thresholds.marginal {
        RunResult::Marginal
    } else {
        RunResult::Fail
    }
}

#[cfg(test)]
#[path = "score_tests.rs"]
mod tests;
