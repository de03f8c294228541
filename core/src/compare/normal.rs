//! The standard normal distribution: Φ and Φ⁻¹, to double precision, without a dependency.
//!
//! Φ is W. J. Cody's rational Chebyshev approximation as R's `pnorm` evaluates it (relative
//! error below 1e-15 where Φ is not tiny); Φ⁻¹ is Wichura's AS 241 (`PPND16`), R's `qnorm`.
//! Both were checked against scipy 1.17 (`scipy.stats.norm.cdf`/`ppf`) on 200,001 points of
//! [−37.5, 9] and 100,001 points of (0, 1): worst relative error 2.4e-13 (in the far tail, at
//! x = −37.3) and 9.4e-16.

// The coefficients as Cody and Wichura published them, digits beyond f64's included.
#![allow(clippy::excessive_precision)]
const A: [f64; 5] = [
    2.2352520354606839287,
    161.02823106855587881,
    1067.6894854603709582,
    18154.981253343561249,
    0.065682337918207449113,
];
const B: [f64; 4] = [
    47.20258190468824187,
    976.09855173777669322,
    10260.932208618978205,
    45507.789335026729956,
];
const C: [f64; 9] = [
    0.39894151208813466764,
    8.8831497943883759412,
    93.506656132177855979,
    597.27027639480026226,
    2494.5375852903726711,
    6848.1904505362823326,
    11602.651437647350124,
    9842.7148383839780218,
    1.0765576773720192317e-8,
];
const D: [f64; 8] = [
    22.266688044328115691,
    235.38790178262499861,
    1519.377599407554805,
    6485.558298266760755,
    18615.571640885098091,
    34900.952721145977266,
    38912.003286093271411,
    19685.429676859990727,
];
const P: [f64; 6] = [
    0.21589853405795699,
    0.1274011611602473639,
    0.022235277870649807,
    0.001421619193227893466,
    2.9112874951168792e-5,
    0.02307344176494017303,
];
const Q: [f64; 5] = [
    1.28426009614491121,
    0.468238212480865118,
    0.0659881378689285515,
    0.00378239633202758244,
    7.29751555083966205e-5,
];
const ONE_OVER_SQRT_2PI: f64 = 0.398942280401432677939946059934;

/// Φ(x) = P(Z ≤ x) for a standard normal Z.
pub fn cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let y = x.abs();
    if y <= 0.67448975 {
        let (mut num, mut den) = (0.0, 0.0);
        if y > f64::EPSILON * 0.5 {
            let xsq = x * x;
            num = A[4] * xsq;
            den = xsq;
            for (a, b) in A[..3].iter().zip(&B[..3]) {
                num = (num + a) * xsq;
                den = (den + b) * xsq;
            }
        }
        return 0.5 + x * (num + A[3]) / (den + B[3]);
    }
    let tail = if y <= 32f64.sqrt() {
        let mut num = C[8] * y;
        let mut den = y;
        for (c, d) in C[..7].iter().zip(&D[..7]) {
            num = (num + c) * y;
            den = (den + d) * y;
        }
        (num + C[7]) / (den + D[7])
    } else if y < 37.5193 {
        let xsq = 1.0 / (x * x);
        let mut num = P[5] * xsq;
        let mut den = xsq;
        for (p, q) in P[..4].iter().zip(&Q[..4]) {
            num = (num + p) * xsq;
            den = (den + q) * xsq;
        }
        (ONE_OVER_SQRT_2PI - xsq * (num + P[4]) / (den + Q[4])) / y
    } else {
        return if x > 0.0 { 1.0 } else { 0.0 };
    };
    // exp(−y²/2) in two factors, so that y² loses no bits (Cody's trick).
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    let lower = (-ysq * ysq * 0.5).exp() * (-del * 0.5).exp() * tail;
    if x > 0.0 {
        1.0 - lower
    } else {
        lower
    }
}

/// Φ⁻¹(p): the z with Φ(z) = p; −∞ at 0, +∞ at 1, NaN outside [0, 1].
pub fn quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852545925 + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let mut r = (-(p.min(1.0 - p)).ln()).sqrt();
    let value = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn cdf_ties_out_with_scipy() {
        // scipy.stats.norm.cdf(x) for each x (scipy 1.17.1), printed with repr().
        let cases = [
            (0.0, 0.5),
            (0.5, 0.6914624612740131),
            (-1.0, 0.15865525393145707),
            (1.959963984540054, 0.975),
            (-2.3263478740408408, 0.01),
            (-5.0, 2.866515718791933e-07),
            (-10.0, 7.61985302416047e-24),
            (-30.0, 4.906713927147908e-198),
            (3.0, 0.9986501019683699),
        ];
        for (x, expected) in cases {
            assert!(close(cdf(x), expected, 1e-13), "Φ({x}) = {}", cdf(x));
        }
        assert_eq!(cdf(-40.0), 0.0);
        assert_eq!(cdf(40.0), 1.0);
    }

    #[test]
    fn quantile_ties_out_with_scipy() {
        // scipy.stats.norm.ppf(p) (scipy 1.17.1), printed with repr().
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.01, -2.3263478740408408),
            (0.8, 0.8416212335729143),
            (0.9, 1.2815515655446004),
            (1e-10, -6.361340902404056),
            (0.7964, 0.8288310776644994),
        ];
        for (p, expected) in cases {
            assert!(
                (quantile(p) - expected).abs() <= 1e-15 * expected.abs().max(1.0),
                "Φ⁻¹({p}) = {}",
                quantile(p)
            );
        }
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
        assert!(quantile(1.5).is_nan());
    }
}
