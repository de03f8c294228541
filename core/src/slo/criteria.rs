//! One pass or warning criterion, as Keptn's lighthouse reads it (`parseCriteriaString`):
//! spaces removed; operator `<=`, `<`, `=`, `>=`, `>` (the first that prefixes the text); a
//! trailing `%` makes it relative to the baseline, increasing; a leading `+`/`-` makes it
//! relative, increasing or decreasing; otherwise the number is an absolute target.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = ">")]
    Greater,
}

impl Operator {
    pub fn holds(self, measured: f64, target: f64) -> bool {
        match self {
            Operator::Less => measured < target,
            Operator::LessOrEqual => measured <= target,
            Operator::Equal => measured == target,
            Operator::GreaterOrEqual => measured >= target,
            Operator::Greater => measured > target,
        }
    }
}

/// What the number is measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The number itself.
    Absolute(f64),
    /// The baseline changed by the number, in percent (`±x%`) or in the SLI's unit (`±x`).
    Relative {
        amount: f64,
        percent: bool,
        increase: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// As written in the file.
    pub text: String,
    pub operator: Operator,
    pub target: Target,
}

impl Criterion {
    pub fn is_relative(&self) -> bool {
        matches!(self.target, Target::Relative { .. })
    }

    /// The value the measurement is compared with; `None` for a relative criterion without a
    /// baseline. The float order is Keptn's: `(b * (100 ± x)) / 100`, `b ± x`.
    pub fn target_value(&self, baseline: Option<f64>) -> Option<f64> {
        match self.target {
            Target::Absolute(value) => Some(value),
            Target::Relative {
                amount,
                percent,
                increase,
            } => baseline.map(|b| match (percent, increase) {
                (true, true) => (b * (100.0 + amount)) / 100.0,
                (true, false) => (b * (100.0 - amount)) / 100.0,
                (false, true) => b + amount,
                (false, false) => b - amount,
            }),
        }
    }
}

const OPERATORS: [(&str, Operator); 5] = [
    ("<=", Operator::LessOrEqual),
    ("<", Operator::Less),
    ("=", Operator::Equal),
    (">=", Operator::GreaterOrEqual),
    (">", Operator::Greater),
];

/// Parse one criterion. The error says what is wrong and shows the accepted forms.
pub fn parse_criterion(text: &str) -> Result<Criterion, String> {
    const FORMS: &str =
        "write an operator (<, <=, =, >=, >) and a number, e.g. \"<=800\", \"<=+10%\", \">-5%\" or \"<+50\"";
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    let Some((rest, operator)) = OPERATORS
        .iter()
        .find_map(|(prefix, op)| compact.strip_prefix(prefix).map(|rest| (rest, *op)))
    else {
        return Err(format!(
            "\"{text}\" does not start with an operator; {FORMS}"
        ));
    };
    let (rest, percent) = match rest.strip_suffix('%') {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (number, sign) = if let Some(r) = rest.strip_prefix('-') {
        (r, Some(false))
    } else if let Some(r) = rest.strip_prefix('+') {
        (r, Some(true))
    } else {
        (rest, None)
    };
    // Plain decimal numbers only: Keptn's Go parser would also take 1_000, 0x1p4, Inf or NaN,
    // which are almost certainly typos in an SLO.
    let plain = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let value = match number.parse::<f64>() {
        Ok(v) if plain && v.is_finite() => v,
        _ => {
            return Err(format!(
                "\"{text}\" has no plain number after the operator; {FORMS}"
            ))
        }
    };
    let target = if percent || sign.is_some() {
        Target::Relative {
            amount: value,
            percent,
            // A trailing % alone means an increase, as in Keptn since 0.6.2.
            increase: sign.unwrap_or(true),
        }
    } else {
        Target::Absolute(value)
    };
    Ok(Criterion {
        text: text.to_string(),
        operator,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keptn's TestParseCriteriaString, case for case.
    #[test]
    fn keptn_parse_criteria_string_cases() {
        let rel = |amount, percent, increase| Target::Relative {
            amount,
            percent,
            increase,
        };
        let cases = [
            ("<10", Operator::Less, Target::Absolute(10.0)),
            ("<=10", Operator::LessOrEqual, Target::Absolute(10.0)),
            ("=10", Operator::Equal, Target::Absolute(10.0)),
            (">=10", Operator::GreaterOrEqual, Target::Absolute(10.0)),
            (">10", Operator::Greater, Target::Absolute(10.0)),
            (">-10%", Operator::Greater, rel(10.0, true, false)),
            ("<=+10.5%", Operator::LessOrEqual, rel(10.5, true, true)),
            ("<=+10", Operator::LessOrEqual, rel(10.0, false, true)),
            ("  <=+10   %", Operator::LessOrEqual, rel(10.0, true, true)),
            ("  <=10%", Operator::LessOrEqual, rel(10.0, true, true)),
        ];
        for (text, operator, target) in cases {
            let c = parse_criterion(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((c.operator, c.target), (operator, target), "{text}");
        }
    }

    #[test]
    fn bad_criteria_say_what_is_wrong() {
        for (text, expected) in [
            ("", "does not start with an operator"),
            ("5", "does not start with an operator"),
            ("≤600", "does not start with an operator"),
            ("<", "has no plain number"),
            ("<=%", "has no plain number"),
            ("=<5", "has no plain number"),
            ("<=10ms", "has no plain number"),
            ("<=1_000", "has no plain number"),
            ("<=Inf", "has no plain number"),
            ("<=1.2.3", "has no plain number"),
        ] {
            let e = parse_criterion(text).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(e.contains("e.g. \"<=800\""), "{text}: {e}");
        }
    }

    #[test]
    fn targets_follow_keptn_float_order() {
        let t = |text: &str, b| parse_criterion(text).unwrap().target_value(b);
        assert_eq!(t("<=+15%", Some(10.0)), Some(11.5));
        assert_eq!(t("<=10%", Some(10.0)), Some(11.0));
        assert_eq!(t(">=-10%", Some(10.0)), Some(9.0));
        assert_eq!(t("=+1", Some(10.0)), Some(11.0));
        assert_eq!(t("<-5", Some(10.0)), Some(5.0));
        assert_eq!(t("<=800", None), Some(800.0));
        assert_eq!(t("<=+10%", None), None);
    }
}
