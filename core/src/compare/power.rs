//! The statement of power: the smallest change the test would have flagged, with the given
//! probability, at these sample sizes (the spec's §8). Noether (1987, JASA 82:645): the
//! rank-sum test has power ≈ Φ(√(12·n_c·n_e/(N+1))·|p − ½| − z_{1−α/2}) against
//! p = P(experiment > control). Solved for p, with the tolerance band folded into the
//! critical value (the band makes the test at b = t·estimate significant only when
//! estimate·(1 − t) > z·SE, i.e. at z/(1 − t)).

use serde::Serialize;

use super::format::num;
use super::normal;
use super::stats::SeriesStats;

/// The JSON output's `power` object.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PowerStatement {
    /// 1 − confidenceLevel.
    pub alpha: f64,
    /// The probability of detection the change is stated for.
    pub power: f64,
    pub n_control: usize,
    pub n_experiment: usize,
    /// The smallest P(experiment > control) detected with that probability.
    pub p_star: Option<f64>,
    /// The same effect as a shift in control standard deviations (normal shape): √2·Φ⁻¹(p*).
    pub shift_sd: Option<f64>,
    /// shiftSd · the control's sd; null with fewer than 2 control points.
    pub mde_shift: Option<f64>,
    /// 100 · mdeShift / |control mean|; null when the control mean is 0.
    pub mde_percent: Option<f64>,
    /// p* < 1: some change could be detected at all.
    pub detectable: bool,
}

/// The statement for a metric whose transformed control is described by `control` and whose
/// experiment has `n_experiment` points; None when a side is empty.
pub fn minimum_detectable_change(
    control: &SeriesStats,
    n_experiment: usize,
    confidence_level: f64,
    tolerance: f64,
    power: f64,
) -> Option<PowerStatement> {
    let (n_c, n_e) = (control.count, n_experiment);
    if n_c == 0 || n_e == 0 {
        return None;
    }
    let alpha = 1.0 - confidence_level;
    let z_alpha = -normal::quantile(alpha / 2.0);
    let k = z_alpha / (1.0 - tolerance) + normal::quantile(power);
    let (c, e) = (n_c as f64, n_e as f64);
    let p_star = 0.5 + k * ((c + e + 1.0) / (12.0 * c * e)).sqrt();
    let detectable = p_star < 1.0;
    let (p_star, shift_sd, mde_shift, mde_percent) = if detectable {
        let shift_sd = std::f64::consts::SQRT_2 * normal::quantile(p_star);
        let mde_shift = (n_c >= 2).then_some(shift_sd * control.std);
        let mde_percent = mde_shift
            .filter(|_| control.mean != 0.0)
            .map(|shift| 100.0 * shift / control.mean.abs());
        (Some(p_star), Some(shift_sd), mde_shift, mde_percent)
    } else {
        (None, None, None, None)
    };
    Some(PowerStatement {
        alpha,
        power,
        n_control: n_c,
        n_experiment: n_e,
        p_star,
        shift_sd,
        mde_shift,
        mde_percent,
        detectable,
    })
}

impl PowerStatement {
    /// What a person reads: "a change smaller than 11.67 % could not have been detected", or
    /// "not detectable with n = 6 per side".
    pub fn sentence(&self) -> String {
        if !self.detectable {
            return if self.n_control == self.n_experiment {
                format!("not detectable with n = {} per side", self.n_control)
            } else {
                format!(
                    "not detectable with n = {} control and {} experiment points",
                    self.n_control, self.n_experiment
                )
            };
        }
        match (self.mde_percent, self.mde_shift, self.shift_sd) {
            (Some(percent), _, _) => format!(
                "a change smaller than {} % could not have been detected",
                num(percent)
            ),
            (None, Some(shift), _) => format!(
                "a change smaller than {} (in the metric's unit; the control mean is 0) could not have been detected",
                num(shift)
            ),
            (None, None, Some(sd)) => format!(
                "a shift smaller than {} control standard deviations could not have been detected",
                num(sd)
            ),
            (None, None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control of n points with this mean and sd (the rest does not enter the formula).
    fn control(n: usize, mean: f64, std: f64) -> SeriesStats {
        SeriesStats {
            count: n,
            min: 0.0,
            max: 0.0,
            mean,
            std,
        }
    }

    fn close(a: Option<f64>, b: f64, tolerance: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= tolerance)
    }

    // The spec's worked examples. The control is n normal quantiles
    // mean + sd·Φ⁻¹((i − ½)/n); its sample sd and every expected value are from ref.py
    // (scipy.stats.norm.ppf and numpy.std(ddof=1)).

    #[test]
    fn power_kayenta_defaults_30v30() {
        let s =
            minimum_detectable_change(&control(30, 250.0, 24.89577746785131), 30, 0.98, 0.25, 0.8)
                .unwrap();
        assert!(s.detectable);
        assert!(close(s.p_star, 0.7963643073465133, 1e-12));
        assert!(close(s.shift_sd, 1.1719657764595408, 1e-12));
        assert!(close(s.mde_shift, 29.176999170674303, 1e-10));
        assert!(close(s.mde_percent, 11.670799668269721, 1e-10));
        assert_eq!(
            s.sentence(),
            "a change smaller than 11.67 % could not have been detected"
        );
        assert!((s.alpha - 0.02).abs() < 1e-15);
    }

    #[test]
    fn power_plain_test_30v30_95() {
        let s =
            minimum_detectable_change(&control(30, 250.0, 24.89577746785131), 30, 0.95, 0.0, 0.8)
                .unwrap();
        assert!(close(s.p_star, 0.7105507908714697, 1e-12));
        assert!(close(s.shift_sd, 0.7848807575622796, 1e-12));
        assert!(close(s.mde_percent, 7.816086671627628, 1e-10));
    }

    #[test]
    fn power_unequal_100v20() {
        let s = minimum_detectable_change(
            &control(100, 0.12000000000000002, 0.029959209126341584),
            20,
            0.98,
            0.25,
            0.8,
        )
        .unwrap();
        assert!(close(s.p_star, 0.7800012194155498, 1e-12));
        assert!(close(s.shift_sd, 1.092051940506818, 1e-12));
        assert!(close(s.mde_percent, 27.26417705205908, 1e-9));
    }

    #[test]
    fn power_large_400v400_power90() {
        let s = minimum_detectable_change(
            &control(400, 1200.0, 299.8908138816629),
            400,
            0.98,
            0.25,
            0.9,
        )
        .unwrap();
        assert!(close(s.p_star, 0.5895306355379445, 1e-12));
        assert!(close(s.shift_sd, 0.32008993556701415, 1e-12));
        assert!(close(s.mde_percent, 7.99933594104341, 1e-9));
    }

    #[test]
    fn power_too_small_5v5() {
        // p* would be 1.255107134478015: nothing is detectable.
        let s =
            minimum_detectable_change(&control(5, 250.0, 24.478117222827013), 5, 0.98, 0.25, 0.8)
                .unwrap();
        assert!(!s.detectable);
        assert_eq!(
            (s.p_star, s.shift_sd, s.mde_shift, s.mde_percent),
            (None, None, None, None)
        );
        assert_eq!(s.sentence(), "not detectable with n = 5 per side");
    }

    #[test]
    fn nothing_is_detectable_below_11_per_side_at_kayentas_defaults() {
        let at = |n| minimum_detectable_change(&control(n, 1.0, 1.0), n, 0.98, 0.25, 0.8).unwrap();
        assert!(!at(10).detectable);
        // ref.py: p* = 0.9963105056708661 at 11 per side.
        assert!(at(11).detectable);
        assert!(close(at(11).p_star, 0.9963105056708661, 1e-12));
        assert_eq!(at(6).sentence(), "not detectable with n = 6 per side");
    }

    #[test]
    fn unequal_sides_are_named_when_not_detectable() {
        let s = minimum_detectable_change(&control(4, 1.0, 1.0), 9, 0.98, 0.25, 0.8).unwrap();
        assert_eq!(
            s.sentence(),
            "not detectable with n = 4 control and 9 experiment points"
        );
    }

    #[test]
    fn a_zero_control_mean_has_no_percentage_and_one_point_no_shift() {
        let s = minimum_detectable_change(&control(30, 0.0, 2.0), 30, 0.98, 0.25, 0.8).unwrap();
        assert!(s.mde_percent.is_none());
        assert!(close(s.mde_shift, 2.0 * 1.1719657764595408, 1e-11));
        assert!(s
            .sentence()
            .starts_with("a change smaller than 2.344 (in the metric's unit"));
        // One control point: no sd to scale by (at 50 %, no band and power ½, so p* < 1).
        let s = minimum_detectable_change(&control(1, 5.0, 0.0), 400, 0.5, 0.0, 0.5).unwrap();
        assert!(s.detectable && s.mde_shift.is_none() && s.mde_percent.is_none());
        assert!(s.sentence().starts_with("a shift smaller than"));
    }

    #[test]
    fn an_empty_side_has_no_statement() {
        assert!(minimum_detectable_change(&control(0, 0.0, 0.0), 30, 0.98, 0.25, 0.8).is_none());
        assert!(minimum_detectable_change(&control(30, 1.0, 1.0), 0, 0.98, 0.25, 0.8).is_none());
    }
}
