//! One metric's classification (the spec's §3.3), in order: no data, nothing to test, the
//! test at the band with the effect-size gate, then criticality. Every number that decided it
//! is kept in the [`MetricResult`], with the reason in words.

use serde::Serialize;

use super::config::{Direction, EffectMeasure, MetricConfig, NanStrategy};
use super::format::num;
use super::mann_whitney::{mann_whitney, MannWhitney};
use super::power::{minimum_detectable_change, PowerStatement};
use super::stats::SeriesStats;
use super::transforms::transform;

/// Kayenta's labels without Error: input that cannot be judged stops the run instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Pass,
    High,
    Low,
    /// No data, not counted in its group (it can still fail the run: critical, or half of
    /// the metrics without data).
    Nodata,
    /// No data although `mustHaveData`: counted as a failed metric of its group.
    NodataFail,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::Nodata => "nodata",
            Classification::NodataFail => "nodata_fail",
        }
    }
}

/// One metric's judgement: the JSON output's `metrics[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub groups: Vec<String>,
    /// Reported but not scored.
    pub muted: bool,
    pub classification: Classification,
    /// This metric fails the run: a critical metric that is High or Low beyond its critical
    /// effect, or without data. A critical metric that passes is `false`.
    pub critical: bool,
    pub reason: String,
    /// The mean ratio experiment/control (NaN, written null, when a mean is 0); 1 when there
    /// was no test.
    pub deviation: f64,
    /// The configured measure's value; None when there was no test.
    pub effect_size: Option<f64>,
    pub effect_size_measure: EffectMeasure,
    pub control: SeriesStats,
    pub experiment: SeriesStats,
    pub mann_whitney: Option<MannWhitney>,
    pub power: Option<PowerStatement>,
}

/// Judge one metric from its raw series (`None` is a missing point): transforms, then
/// [`classify_values`]. `power` is the config's top-level power.
pub fn classify_metric(
    metric: &MetricConfig,
    control: &[Option<f64>],
    experiment: &[Option<f64>],
    power: f64,
) -> MetricResult {
    classify_values(
        metric,
        &transform(control, metric),
        &transform(experiment, metric),
        power,
    )
}

fn measure_name(measure: EffectMeasure) -> &'static str {
    match measure {
        EffectMeasure::MeanRatio => "mean ratio",
        EffectMeasure::Cles => "CLES",
    }
}

fn ascending(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Judge one metric from its series after the transforms.
pub fn classify_values(
    metric: &MetricConfig,
    control: &[f64],
    experiment: &[f64],
    power: f64,
) -> MetricResult {
    let control_stats = SeriesStats::of(control);
    let experiment_stats = SeriesStats::of(experiment);
    let mut result = MetricResult {
        name: metric.name.clone(),
        groups: metric.groups.clone(),
        muted: metric.muted,
        classification: Classification::Pass,
        critical: false,
        reason: String::new(),
        deviation: 1.0,
        effect_size: None,
        effect_size_measure: metric.effect_size.measure,
        control: control_stats,
        experiment: experiment_stats,
        mann_whitney: None,
        power: minimum_detectable_change(
            &control_stats,
            experiment.len(),
            metric.confidence_level,
            metric.tolerance,
            power,
        ),
    };

    // 1. No data.
    if control.is_empty() || experiment.is_empty() {
        classify_no_data(
            metric,
            control.is_empty(),
            experiment.is_empty(),
            &mut result,
        );
        return result;
    }

    // 2. Nothing to test.
    let (x, y) = (ascending(experiment), ascending(control));
    if let Some(reason) = nothing_to_test(&x, &y) {
        result.reason = reason;
        return result;
    }

    // 3. The test at the band, with the effect-size gate.
    let mw = mann_whitney(
        experiment,
        control,
        metric.confidence_level,
        metric.tolerance,
    );
    let ratio = if control_stats.mean == 0.0 || experiment_stats.mean == 0.0 {
        f64::NAN
    } else {
        experiment_stats.mean / control_stats.mean
    };
    let effect = match metric.effect_size.measure {
        EffectMeasure::MeanRatio => ratio,
        EffectMeasure::Cles => mw.u / (x.len() as f64 * y.len() as f64),
    };
    BandTest::new(metric, &mw, effect).classify(&mut result);
    result.deviation = ratio;
    result.effect_size = Some(effect);
    result.mann_whitney = Some(mw);
    result
}

/// Step 1: a side without data; whether that fails depends on nanStrategy and mustHaveData.
fn classify_no_data(
    metric: &MetricConfig,
    control_empty: bool,
    experiment_empty: bool,
    result: &mut MetricResult,
) {
    let which = match (control_empty, experiment_empty) {
        (true, true) => "the control and the experiment",
        (true, false) => "the control",
        _ => "the experiment",
    };
    let strategy = match metric.nan_strategy {
        NanStrategy::Remove => "remove",
        NanStrategy::Replace => "replace",
    };
    // D4: Kayenta ignores mustHaveData under replace, so an empty series passes there.
    if metric.nan_strategy == NanStrategy::Remove || metric.must_have_data {
        if metric.must_have_data && !metric.critical {
            result.classification = Classification::NodataFail;
            result.reason = format!(
                "no data in {which} (nanStrategy {strategy}); mustHaveData is set, so it counts as a failed metric"
            );
        } else {
            result.classification = Classification::Nodata;
            result.critical = metric.critical;
            result.reason = if metric.critical {
                format!(
                    "no data in {which} (nanStrategy {strategy}); the metric is critical, so the run fails"
                )
            } else {
                format!("no data in {which} (nanStrategy {strategy}); not scored in its group")
            };
        }
    } else {
        result.reason = format!(
            "no data in {which}; under nanStrategy replace without mustHaveData an empty series passes (set mustHaveData to fail it)"
        );
    }
}

/// Step 2: why a pass needs no test, given both sides sorted (`x` the experiment).
fn nothing_to_test(x: &[f64], y: &[f64]) -> Option<String> {
    if x == y {
        return Some("the control and experiment data are identical".into());
    }
    if x[0] == x[x.len() - 1] && y[0] == y[y.len() - 1] && x[0] == y[0] {
        return Some(format!("every point of both sides is {}", num(x[0])));
    }
    None
}

/// Step 3: the test's outcome and the effect, with the texts every reason quotes.
struct BandTest<'a> {
    metric: &'a MetricConfig,
    mw: &'a MannWhitney,
    effect: f64,
    measure: &'static str,
    effect_text: String,
    level: String,
    zc: String,
    band: String,
}

impl<'a> BandTest<'a> {
    fn new(metric: &'a MetricConfig, mw: &'a MannWhitney, effect: f64) -> Self {
        BandTest {
            metric,
            mw,
            effect,
            measure: measure_name(metric.effect_size.measure),
            effect_text: num(effect),
            level: format!("{} %", num(metric.confidence_level * 100.0)),
            zc: num(mw.z_critical),
            band: num(mw.band),
        }
    }

    /// High, Low or Pass, with the reason and whether it fails the run.
    fn classify(&self, result: &mut MetricResult) {
        let (mw, bounds, effect) = (self.mw, &self.metric.effect_size, self.effect);
        let increase_counts = matches!(
            self.metric.direction,
            Direction::Increase | Direction::Either
        );
        let decrease_counts = matches!(
            self.metric.direction,
            Direction::Decrease | Direction::Either
        );
        let significantly_higher = mw.z_high > mw.z_critical;
        let significantly_lower = mw.z_low < -mw.z_critical;
        let high = increase_counts
            && significantly_higher
            && (effect.is_nan() || effect >= bounds.allowed_increase);
        let low = decrease_counts
            && significantly_lower
            && (effect.is_nan() || effect <= bounds.allowed_decrease);

        if high {
            self.classify_high(result);
        } else if low {
            self.classify_low(result);
        } else if significantly_higher {
            result.reason = self.higher_but_passes(increase_counts);
        } else if significantly_lower {
            result.reason = self.lower_but_passes(decrease_counts);
        } else {
            result.reason = self.no_change_beyond_the_band();
        }
    }

    fn classify_high(&self, result: &mut MetricResult) {
        let (mw, bounds, effect) = (self.mw, &self.metric.effect_size, self.effect);
        result.classification = Classification::High;
        result.critical =
            self.metric.critical && (effect.is_nan() || effect >= bounds.critical_increase);
        let (band, zc, level) = (&self.band, &self.zc, &self.level);
        result.reason = format!(
            "higher: z at the band +{band} is {} > {zc} ({level}), and {}",
            num(mw.z_high),
            self.against("≥", "allowedIncrease", bounds.allowed_increase)
        );
        if result.critical {
            result.reason.push_str(&self.fails_the_run(
                "≥",
                "criticalIncrease",
                bounds.critical_increase,
            ));
        }
    }

    fn classify_low(&self, result: &mut MetricResult) {
        let (mw, bounds, effect) = (self.mw, &self.metric.effect_size, self.effect);
        result.classification = Classification::Low;
        result.critical =
            self.metric.critical && (effect.is_nan() || effect <= bounds.critical_decrease);
        let (band, zc, level) = (&self.band, &self.zc, &self.level);
        result.reason = format!(
            "lower: z at the band −{band} is {} < −{zc} ({level}), and {}",
            num(mw.z_low),
            self.against("≤", "allowedDecrease", bounds.allowed_decrease)
        );
        if result.critical {
            result.reason.push_str(&self.fails_the_run(
                "≤",
                "criticalDecrease",
                bounds.critical_decrease,
            ));
        }
    }

    /// Significantly higher, but below the effect gate or in a direction that does not count.
    fn higher_but_passes(&self, increase_counts: bool) -> String {
        let (measure, effect_text, zc) = (self.measure, &self.effect_text, &self.zc);
        if increase_counts {
            format!(
                "higher (z at the band {} > {zc}), but the {measure} {effect_text} is below allowedIncrease {}",
                num(self.mw.z_high),
                num(self.metric.effect_size.allowed_increase)
            )
        } else {
            format!(
                "higher (z at the band {} > {zc}), but only a decrease counts (direction decrease)",
                num(self.mw.z_high)
            )
        }
    }

    /// Significantly lower, but above the effect gate or in a direction that does not count.
    fn lower_but_passes(&self, decrease_counts: bool) -> String {
        let (measure, effect_text, zc) = (self.measure, &self.effect_text, &self.zc);
        if decrease_counts {
            format!(
                "lower (z at the band {} < −{zc}), but the {measure} {effect_text} is above allowedDecrease {}",
                num(self.mw.z_low),
                num(self.metric.effect_size.allowed_decrease)
            )
        } else {
            format!(
                "lower (z at the band {} < −{zc}), but only an increase counts (direction increase)",
                num(self.mw.z_low)
            )
        }
    }

    fn no_change_beyond_the_band(&self) -> String {
        let (mw, level, zc, band) = (self.mw, &self.level, &self.zc, &self.band);
        if mw.z.abs() > mw.z_critical {
            // The question users ask of such a pass (kayenta#521, spinnaker#6278): the change is
            // real, but not larger than the band.
            format!(
                "a change (z = {}, p = {}) but not beyond the band ±{band}: z at +band {} ≤ {zc} and at −band {} ≥ −{zc} ({level})",
                num(mw.z),
                num(mw.p_value),
                num(mw.z_high),
                num(mw.z_low)
            )
        } else {
            format!(
                "no significant change at {level}: z = {} within ±{zc} (p = {})",
                num(mw.z),
                num(mw.p_value)
            )
        }
    }

    /// "the mean ratio 1.3 ≥ allowedIncrease 1.1", or why the effect could not gate.
    fn against(&self, sym: &str, bound_name: &str, bound: f64) -> String {
        let (measure, effect_text) = (self.measure, &self.effect_text);
        if self.effect.is_nan() {
            format!("the {measure} cannot be computed (a mean is 0), so the test alone decides")
        } else {
            format!(
                "the {measure} {effect_text} {sym} {bound_name} {}",
                num(bound)
            )
        }
    }

    fn fails_the_run(&self, sym: &str, bound_name: &str, bound: f64) -> String {
        let effect_text = &self.effect_text;
        if self.effect.is_nan() {
            "; the metric is critical, so the run fails".to_string()
        } else {
            format!(
                "; critical: {effect_text} {sym} {bound_name} {}, so the run fails",
                num(bound)
            )
        }
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
