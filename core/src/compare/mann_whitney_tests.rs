//! The rank-sum test against independent values: scipy and numpy tie-outs, Kayenta's
//! MannWhitneySuite data, and the selection checked against sorting every difference.

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
    // U = 6, D = 1.5, σ = √(9/12·7) = √5.25.
    assert_eq!(t.u, 6.0);
    assert!(close(t.z, 1.0 / 5.25f64.sqrt(), 1e-15));
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
