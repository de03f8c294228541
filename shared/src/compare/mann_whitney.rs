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
            for i in 0..n1 {
                rest.extend((lo[i]..hi[i]).map(|j| at(i, j)));
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
        for i in 0..n1 {
            while lt > 0 && at(i, lt - 1) >= pivot {
                lt -= 1;
            }
            while le > 0 && at(i, le - 1) > pivot {
                le -= 1;
            }
            less[i] = lt;
            less_or_equal[i] = le;
            count_lt += lt as u64;
            count_le += le as u64;
        }
        if k <= count_lt {
            // The answer is below the pivot: everything from the pivot up goes.
            for i in 0..n1 {
                hi[i] = hi[i].min(less[i]).max(lo[i]);
            }
        } else if k > count_le {
            // The answer is above the pivot: everything up to the pivot goes.
            for i in 0..n1 {
                lo[i] = lo[i].max(less_or_equal[i]).min(hi[i]);
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
mod tests {
    use super::*;

    /// A small deterministic generator (splitmix64) for the brute-force comparisons.
    struct Numbers(u64);
    impl Numbers {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> f64 {
            (self.next() % n) as f64
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn all_differences(x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        d.sort_by(f64::total_cmp);
        d
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn selection_agrees_with_sorting_every_difference() {
        let mut r = Numbers(25);
        for (n1, n2, levels) in [
            (1, 1, 0),
            (1, 7, 0),
            (9, 1, 0),
            (13, 11, 4),
            (40, 60, 0),
            (120, 90, 7),
            (300, 200, 0),
            (257, 311, 30),
        ] {
            // levels > 0: small integers, so that many differences are tied.
            let mut draw = |n: usize| -> Vec<f64> {
                let mut v: Vec<f64> = (0..n)
                    .map(|_| {
                        if levels > 0 {
                            r.below(levels)
                        } else {
                            r.unit() * 100.0
                        }
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let (x, y) = (draw(n1), draw(n2));
            let sorted = all_differences(&x, &y);
            let m = sorted.len() as u64;
            let ks: Vec<u64> = if m <= 2000 {
                (1..=m).collect()
            } else {
                (1..=m).step_by(997).chain([m / 2, m / 2 + 1, m]).collect()
            };
            for k in ks {
                assert_eq!(
                    kth_difference(&x, &y, k),
                    sorted[(k - 1) as usize],
                    "k = {k} of {n1} × {n2}"
                );
            }
        }
    }

    #[test]
    fn the_kayenta_suites_4_v_4_interval_and_estimate_hold() {
        // MannWhitneySuite "Mann-Whitney Confidence Interval & Estimate" (95 %): [6, 39], 22.5.
        let mw = mann_whitney(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95, 0.25);
        assert_eq!((mw.ci_lower, mw.ci_upper, mw.estimate), (6.0, 39.0, 22.5));
        assert!(mw.ci_achievable);
        // scipy.stats.mannwhitneyu([10,20,30,40], [1,2,3,4], method='asymptotic',
        // use_continuity=True).pvalue; z = (16 − 8 − ½)/√(16·9/12).
        assert!(close(mw.p_value, 0.03038282197657749, 1e-15));
        assert!(close(mw.z, 2.165063509461097, 1e-14));
        assert_eq!(mw.u, 16.0);
        assert_eq!(mw.band, 5.625);
    }

    #[test]
    fn u_z_and_p_tie_out_with_scipy_with_ties() {
        // scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic',
        // use_continuity=True) → statistic (U of x) 29.5, pvalue 0.23975059976157165; z from
        // scipy.stats.rankdata and the tie-corrected σ (ref.py): 1.1756103949287162.
        let x = [3.0, 5.0, 5.0, 7.0, 9.0, 9.0, 9.0];
        let y = [1.0, 2.0, 5.0, 5.0, 6.0, 9.0];
        let t = shift_test(&x, &y, 0.0);
        assert_eq!(t.u, 29.5);
        assert!(close(t.z, 1.1756103949287162, 1e-14), "{}", t.z);
        assert!(
            close(p_value(&t), 0.23975059976157165, 1e-14),
            "{}",
            p_value(&t)
        );
    }

    #[test]
    fn the_continuity_correction_moves_z_toward_zero_by_half_over_sigma() {
        let x = [2.0, 4.0, 6.0];
        let y = [1.0, 3.0, 5.0];
        let t = shift_test(&x, &y, 0.0);
        // U = 6, D = 1.5, σ = √(9/12·7) = 2.2912878474779199.
        assert_eq!(t.u, 6.0);
        assert!(close(t.z, 1.0 / 2.2912878474779199, 1e-15));
        // D = 0: no correction, z = 0 and p = 1.
        let t = shift_test(&[1.0, 4.0], &[2.0, 3.0], 0.0);
        assert_eq!((t.u, t.z, p_value(&t)), (2.0, 0.0, 1.0));
    }

    #[test]
    fn all_points_tied_gives_sigma_zero_z_zero_and_p_one() {
        let t = shift_test(&[3.0, 3.0], &[3.0, 3.0, 3.0], 0.0);
        assert_eq!((t.sigma, t.z, p_value(&t)), (0.0, 0.0, 1.0));
    }

    #[test]
    fn kayentas_wilcoxon_diff_is_z_at_the_shift() {
        // MannWhitneySuite "Wilcoxon Diff Function": wilcoxonDiff(mu, 0, x, y) is z(mu), with
        // R's values −1.229416 at 0 and −35.80606 at 5 (to 1e-6).
        let data: serde_json::Value =
            serde_json::from_str(include_str!("testdata/kayenta_wilcoxon_diff.json")).unwrap();
        let read = |k: &str| -> Vec<f64> {
            let mut v: Vec<f64> = data[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let (x, y) = (read("x"), read("y"));
        assert!(close(shift_test(&x, &y, 0.0).z, -1.229416, 1e-6));
        assert!(close(shift_test(&x, &y, 5.0).z, -35.80606, 1e-6));
    }

    #[test]
    fn the_interval_is_where_kayentas_root_finder_stops() {
        // Between jump points z(d) is constant; the lower end d₍k_lo₎ is the first difference
        // at which z drops to z_c or below, the upper end the first at which it drops below
        // −z_c: checked by evaluating z just below and at each end.
        let mut r = Numbers(7);
        for (n1, n2) in [(12, 15), (30, 30), (7, 40)] {
            let mut x: Vec<f64> = (0..n1).map(|_| r.unit() * 10.0 + 1.0).collect();
            let mut y: Vec<f64> = (0..n2).map(|_| r.unit() * 10.0).collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let zc = critical_z(0.95);
            let ci = confidence_interval(&x, &y, 0.95);
            assert!(ci.achievable);
            let eps = 1e-9;
            assert!(shift_test(&x, &y, ci.lower - eps).z > zc);
            assert!(shift_test(&x, &y, ci.lower + eps).z <= zc);
            assert!(shift_test(&x, &y, ci.upper - eps).z >= -zc);
            assert!(shift_test(&x, &y, ci.upper + eps).z < -zc);
        }
    }

    #[test]
    fn an_unreachable_level_clamps_to_the_extremes_and_says_so() {
        // 3 v 3 at 98 %: k_lo = ⌈4.5 − 2.326·2.291 − ½⌉ = −1.
        let ci = confidence_interval(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0], 0.98);
        assert!(!ci.achievable);
        assert_eq!((ci.k_lower, ci.k_upper), (1, 9));
        assert_eq!((ci.lower, ci.upper), (1.0, 5.0));
    }

    #[test]
    fn the_estimate_is_the_median_difference_as_r_d3b() {
        // MannWhitneySuite "Tie out with R Version": R reports −0.4999394 (a root); the
        // median of the 8,100 differences is −0.5 (numpy, sorting them all).
        let data: serde_json::Value =
            serde_json::from_str(include_str!("testdata/kayenta_tie_out_r.json")).unwrap();
        let read = |k: &str| -> Vec<f64> {
            data[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let mw = mann_whitney(&read("experiment"), &read("control"), 0.95, 0.25);
        assert_eq!(mw.estimate, -0.5);
        // R: [−0.500002521696696, −3.486287505871302e-5], a root finder's 1e-4 away from
        // the exact order statistics d₍3367₎ and d₍4734₎.
        assert_eq!((mw.ci_lower, mw.ci_upper), (-0.5, 0.0));
        assert!(close(mw.ci_lower, -0.500002521696696, 1e-4));
        assert!(close(mw.ci_upper, -3.486287505871302e-5, 1e-4));
        // scipy.stats.mannwhitneyu(experiment, control, method='asymptotic',
        // use_continuity=True).pvalue
        assert!(
            close(mw.p_value, 0.040972234992844116, 1e-13),
            "{}",
            mw.p_value
        );
    }

    #[test]
    fn the_problem_case_is_answered_at_its_own_scale_d1() {
        // MannWhitneySuite "Problem Case": 850 v 850 values near 0.0333 whose differences
        // are ~1e-6. Kayenta's root finder (absolute tolerance 1e-4) answers the whole range
        // [−1.48e-5, 1.81e-5] with estimate 1.81e-5; the exact order statistics (numpy, all
        // 722,500 differences sorted) are d₍337779₎ and d₍384722₎, estimate their median.
        let data: serde_json::Value =
            serde_json::from_str(include_str!("testdata/kayenta_problem_case.json")).unwrap();
        let read = |k: &str| -> Vec<f64> {
            data[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (e, c) = (read("experiment"), read("control"));
        let mw = mann_whitney(&e, &c, 0.98, 0.25);
        assert_eq!(mw.ci_lower, -7.450580596923828e-08);
        assert_eq!(mw.ci_upper, 1.7384688064114862e-09);
        assert_eq!(mw.estimate, -1.7384688064114862e-09);
        assert!(
            close(mw.p_value, 0.21891569688556367, 1e-13),
            "{}",
            mw.p_value
        );
        // Scale-invariant: ×2²⁰ is exact in floating point, so every difference scales exactly.
        let scale = (1u64 << 20) as f64;
        let scaled = |v: &[f64]| v.iter().map(|a| a * scale).collect::<Vec<_>>();
        let big = mann_whitney(&scaled(&e), &scaled(&c), 0.98, 0.25);
        assert_eq!(big.ci_lower, mw.ci_lower * scale);
        assert_eq!(big.ci_upper, mw.ci_upper * scale);
        assert_eq!(big.estimate, mw.estimate * scale);
        assert_eq!((big.u, big.z, big.p_value), (mw.u, mw.z, mw.p_value));
        assert_eq!((big.z_high, big.z_low), (mw.z_high, mw.z_low));
    }

    #[test]
    fn constant_sides_give_the_single_difference_deterministically_d3() {
        // Kayenta throws ("all observations tied") or, since #343, adds random noise.
        let mw = mann_whitney(&[10.0; 5], &[1.0; 5], 0.95, 0.1);
        assert_eq!((mw.ci_lower, mw.ci_upper, mw.estimate), (9.0, 9.0, 9.0));
        // At the band 0.9 the sides stay apart: U = 25, T = 2·(5³ − 5) = 240,
        // σ = √(25/12·(11 − 240/90)) = 4.166666666666667, z = 12/σ = 2.88.
        assert!(close(mw.z_high, 2.88, 1e-12), "{}", mw.z_high);
        assert_eq!(mw, mann_whitney(&[10.0; 5], &[1.0; 5], 0.95, 0.1));
    }

    #[test]
    fn complete_separation_needs_4_per_side_at_95_and_5_at_98_d2() {
        // x = 100…, y = 0…: z at the band equals z(0) (no cross ties), from ref.py:
        // 3 v 3 1.7457431218879391, 4 v 4 2.165063509461097, 5 v 5 2.5067182457620487.
        let side = |n: usize, from: f64| (0..n).map(|i| from + i as f64).collect::<Vec<_>>();
        let z = |n: usize, level: f64| {
            let mw = mann_whitney(&side(n, 100.0), &side(n, 0.0), level, 0.25);
            (mw.z_high, mw.z_critical)
        };
        let (z3, zc95) = z(3, 0.95);
        assert!(close(z3, 1.7457431218879391, 1e-14) && z3 < zc95);
        let (z4, _) = z(4, 0.95);
        assert!(close(z4, 2.165063509461097, 1e-14) && z4 > zc95);
        let (z4, zc98) = z(4, 0.98);
        assert!(z4 < zc98);
        let (z5, _) = z(5, 0.98);
        assert!(close(z5, 2.5067182457620487, 1e-14) && z5 > zc98);
    }

    #[test]
    fn the_critical_z_is_kayentas_quantile() {
        // MannWhitneySuite "Test zQuant": −Φ⁻¹(0.01) = 2.326348 (1e-6).
        assert!(close(critical_z(0.98), 2.326348, 1e-6));
        assert!(close(critical_z(0.95), 1.959963984540054, 1e-15));
    }
}
