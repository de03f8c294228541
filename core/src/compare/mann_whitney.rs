//! The Wilcoxon–Mann–Whitney rank-sum test of a location shift, x = experiment against
//! y = control, as R's `wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE)` and
//! Kayenta run it, with three deliberate differences (the spec's §7): a p-value (D8), the
//! Hodges–Lehmann median as the estimate (D3b), and the interval as exact order statistics of
//! the pairwise differences instead of a root finder with an absolute tolerance (D1, D3).
//!
//! The k-th smallest of the n₁·n₂ differences is found by selection over the implicit sorted
//! matrix (Johnson & Mizoguchi 1978, as Monahan's 1984 Hodges–Lehmann algorithm uses it), in
//! O((n₁ + n₂)·log(n₁·n₂)) steps, never by sorting n₁·n₂ values.

use serde::Serialize;

use super::normal;

/// The test at one shift d: the combined sample {xᵢ − d} ∪ {yⱼ} ranked with average ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftTest {
    /// U(d): the rank sum of the x part minus n₁(n₁+1)/2.
    pub u: f64,
    /// σ(d), tie-corrected.
    pub sigma: f64,
    /// z(d) = (D − ½·sign D)/σ with D = U − n₁n₂/2; 0 when σ = 0.
    pub z: f64,
}

/// Σ (t³ − t) over the runs of equal values of ascending `sorted`.
fn tie_sum(sorted: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        total += t * t * t - t;
        i = j;
    }
    total
}

/// σ from the sizes and the tie sum T: √(n₁n₂/12 · (N + 1 − T/(N(N−1)))).
fn tie_corrected_sigma(n1: f64, n2: f64, ties: f64) -> f64 {
    let n = n1 + n2;
    (n1 * n2 / 12.0 * (n + 1.0 - ties / (n * (n - 1.0))))
        .max(0.0)
        .sqrt()
}

/// z(d) for ascending `x` (experiment) and `y` (control), both non-empty: one merge, O(N).
pub fn shift_test(x: &[f64], y: &[f64], shift: f64) -> ShiftTest {
    let (n1, n2) = (x.len(), y.len());
    let (mut i, mut j) = (0, 0);
    let mut position = 0.0;
    let mut rank_sum_x = 0.0;
    let mut ties = 0.0;
    while i < n1 || j < n2 {
        // x − d is computed as R and Kayenta compute it (`x - mu`); rounding keeps it ascending.
        let next_x = (i < n1).then(|| x[i] - shift);
        let next_y = (j < n2).then(|| y[j]);
        let value = match (next_x, next_y) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => unreachable!(),
        };
        let mut in_x = 0.0;
        while i < n1 && x[i] - shift == value {
            i += 1;
            in_x += 1.0;
        }
        let mut in_y = 0.0;
        while j < n2 && y[j] == value {
            j += 1;
            in_y += 1.0;
        }
        let t: f64 = in_x + in_y;
        if t == 0.0 {
            // Only a NaN could match nothing; the inputs have none, but never loop forever.
            break;
        }
        rank_sum_x += in_x * (position + (t + 1.0) / 2.0);
        ties += t * t * t - t;
        position += t;
    }
    let (n1, n2) = (n1 as f64, n2 as f64);
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let sigma = tie_corrected_sigma(n1, n2, ties);
    let d = u - n1 * n2 / 2.0;
    let z = if sigma == 0.0 {
        0.0
    } else {
        let sign = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        (d - 0.5 * sign) / sigma
    };
    ShiftTest { u, sigma, z }
}

/// The two-sided p-value min(1, 2Φ(−|z|)); 1 when σ = 0. scipy's
/// `mannwhitneyu(x, y, method="asymptotic", use_continuity=True)`.
pub fn p_value(test: &ShiftTest) -> f64 {
    if test.sigma == 0.0 {
        1.0
    } else {
        (2.0 * normal::cdf(-test.z.abs())).min(1.0)
    }
}

/// z_c = Φ⁻¹(1 − α/2) with α = 1 − level, computed as −Φ⁻¹(α/2) (no rounding of 1 − α/2).
pub fn critical_z(confidence_level: f64) -> f64 {
    -normal::quantile((1.0 - confidence_level) / 2.0)
}

/// The k-th smallest (1-based, 1 ≤ k ≤ n₁n₂) of the differences xᵢ − yⱼ, for ascending
/// non-empty `x` and `y`.
///
/// Row i of the implicit matrix holds x[i] − y[n₂−1−j] for j = 0…n₂−1, ascending along the
/// row and down each column (floating-point subtraction is monotone, so the computed
/// differences are ordered too). Each row keeps a window [lo, hi) of candidates. A pivot, the
/// weighted median of the windows' middle entries, is counted against the whole matrix in
/// O(n₁ + n₂) by walking the staircase; the windows then shrink to the side of the pivot that
/// holds the answer, losing at least a quarter of the candidates each round. The pivot only
/// decides the speed: the answer is the same order statistic whatever it is.
pub fn kth_difference(x: &[f64], y: &[f64], k: u64) -> f64 {
    let (n1, n2) = (x.len(), y.len());
    let total = n1 as u64 * n2 as u64;
    assert!(
        (1..=total).contains(&k),
        "k = {k} is not in 1..={total} (n1 = {n1}, n2 = {n2})"
    );
    let at = |i: usize, j: usize| x[i] - y[n2 - 1 - j];
    let mut lo = vec![0usize; n1];
    let mut hi = vec![n2; n1];
    let mut less = vec![0usize; n1];
    let mut less_or_equal = vec![0usize; n1];
    // Below this many candidates, select among them directly.
    let small = ((n1 + n2) as u64).max(512) * 2;
    loop {
        let active: u64 = lo.iter().zip(&hi).map(|(l, h)| (h - l) as u64).sum();
        if active <= small {
            let below: u64 = lo.iter().map(|l| *l as u64).sum();
            let mut rest: Vec<f64> = Vec::with_capacity(active as usize);
            for (i, (l, h)) in lo.iter().zip(&hi).enumerate() {
                rest.extend((*l..*h).map(|j| at(i, j)));
            }
            let index = (k - below - 1) as usize;
            let (_, value, _) = rest.select_nth_unstable_by(index, f64::total_cmp);
            return *value;
        }
        let mut middles: Vec<(f64, u64)> = (0..n1)
            .filter(|&i| hi[i] > lo[i])
            .map(|i| (at(i, lo[i] + (hi[i] - lo[i]) / 2), (hi[i] - lo[i]) as u64))
            .collect();
        middles.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = active.div_ceil(2);
        let mut weight: u64 = 0;
        let mut pivot = middles[middles.len() - 1].0;
        for (value, w) in &middles {
            weight += *w;
            if weight >= half {
                pivot = *value;
                break;
            }
        }
        // The staircase: a row's count of entries below the pivot never grows down the rows.
        let (mut lt, mut le) = (n2, n2);
        let (mut count_lt, mut count_le) = (0u64, 0u64);
        for (i, (below, at_most)) in less.iter_mut().zip(&mut less_or_equal).enumerate() {
            while lt > 0 && at(i, lt - 1) >= pivot {
                lt -= 1;
            }
            while le > 0 && at(i, le - 1) > pivot {
                le -= 1;
            }
            *below = lt;
            *at_most = le;
            count_lt += lt as u64;
            count_le += le as u64;
        }
        if k <= count_lt {
            // The answer is below the pivot: everything from the pivot up goes.
            for ((h, l), below) in hi.iter_mut().zip(&lo).zip(&less) {
                *h = (*h).min(*below).max(*l);
            }
        } else if k > count_le {
            // The answer is above the pivot: everything up to the pivot goes.
            for ((l, h), at_most) in lo.iter_mut().zip(&hi).zip(&less_or_equal) {
                *l = (*l).max(*at_most).min(*h);
            }
        } else {
            return pivot;
        }
    }
}

/// The Hodges–Lehmann estimate: the median of the n₁n₂ differences xᵢ − yⱼ (the mean of the
/// two middle ones when n₁n₂ is even), as R's `wilcox.test` reports it.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> f64 {
    let m = x.len() as u64 * y.len() as u64;
    if m % 2 == 1 {
        kth_difference(x, y, m.div_ceil(2))
    } else {
        let (a, b) = (kth_difference(x, y, m / 2), kth_difference(x, y, m / 2 + 1));
        let mid = (a + b) / 2.0;
        // (a + b) overflows only for differences near ±f64::MAX.
        if mid.is_finite() {
            mid
        } else {
            a / 2.0 + b / 2.0
        }
    }
}

/// The confidence interval as order statistics of the differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
    /// Whether the level can be reached at all: k_lo ≥ 1 and k_hi ≤ n₁n₂ before clamping.
    pub achievable: bool,
    /// The order statistics taken, after clamping to [1, n₁n₂].
    pub k_lower: u64,
    pub k_upper: u64,
}

/// The interval of R's and Kayenta's root finders, at the jump points where they stop:
/// k_lo = ⌈M/2 − z_c·σ₀ − ½⌉ and k_hi = ⌈M/2 + z_c·σ₀ + ½⌉, where σ₀ counts the ties within x
/// and within y only (σ between the jump points).
pub fn confidence_interval(x: &[f64], y: &[f64], confidence_level: f64) -> Interval {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let m = x.len() as u64 * y.len() as u64;
    let sigma0 = tie_corrected_sigma(n1, n2, tie_sum(x) + tie_sum(y));
    let reach = critical_z(confidence_level) * sigma0;
    let half = m as f64 / 2.0;
    let k_lo = (half - reach - 0.5).ceil();
    let k_hi = (half + reach + 0.5).ceil();
    let achievable = k_lo >= 1.0 && k_hi <= m as f64;
    let clamp = |k: f64| (k.max(1.0) as u64).min(m);
    let (k_lower, k_upper) = (clamp(k_lo), clamp(k_hi));
    Interval {
        lower: kth_difference(x, y, k_lower),
        upper: kth_difference(x, y, k_upper),
        achievable,
        k_lower,
        k_upper,
    }
}

/// Every statistic of the test, as the JSON output's `mannWhitney` object.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MannWhitney {
    /// U(0) of the experiment.
    pub u: f64,
    /// z(0).
    pub z: f64,
    pub p_value: f64,
    /// Hodges–Lehmann: the median difference experiment − control.
    pub estimate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub ci_achievable: bool,
    pub confidence_level: f64,
    pub z_critical: f64,
    /// tolerance·|estimate|.
    pub band: f64,
    /// z(+band): above z_critical, the experiment is High.
    pub z_high: f64,
    /// z(−band): below −z_critical, the experiment is Low.
    pub z_low: f64,
    pub n_control: usize,
    pub n_experiment: usize,
}

fn ascending(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The test of `experiment` against `control` (both non-empty, no NaN) at the level, with
/// the band `tolerance`·|estimate|.
pub fn mann_whitney(
    experiment: &[f64],
    control: &[f64],
    confidence_level: f64,
    tolerance: f64,
) -> MannWhitney {
    let x = ascending(experiment);
    let y = ascending(control);
    let at_zero = shift_test(&x, &y, 0.0);
    let estimate = hodges_lehmann(&x, &y);
    let interval = confidence_interval(&x, &y, confidence_level);
    let band = tolerance * estimate.abs();
    MannWhitney {
        u: at_zero.u,
        z: at_zero.z,
        p_value: p_value(&at_zero),
        estimate,
        ci_lower: interval.lower,
        ci_upper: interval.upper,
        ci_achievable: interval.achievable,
        confidence_level,
        z_critical: critical_z(confidence_level),
        band,
        z_high: shift_test(&x, &y, band).z,
        z_low: shift_test(&x, &y, -band).z,
        n_control: y.len(),
        n_experiment: x.len(),
    }
}

#[cfg(test)]
#[path = "mann_whitney_tests.rs"]
mod tests;
