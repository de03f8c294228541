//! Numbers in the reasons and the table: four significant digits, no trailing zeros.

/// `v` with four significant digits ("11.67", "0.01235", "2.326"), in scientific notation
/// below 0.001 or from 10⁶ ("3.1e-7"); "NaN", "∞" and "−∞" as such.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        let text = format!("{v:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn four_significant_digits_without_trailing_zeros() {
        assert_eq!(num(11.670799668269721), "11.67");
        assert_eq!(num(0.012345), "0.01235");
        assert_eq!(num(2.3263478740408408), "2.326");
        assert_eq!(num(250.0), "250");
        assert_eq!(num(123456.0), "123456");
        assert_eq!(num(-0.5), "-0.5");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(3.1e-7), "3.1e-7");
        assert_eq!(num(1.5e9), "1.5e9");
        assert_eq!(num(f64::NAN), "NaN");
    }
}
