//! Which provider an sli.yaml's queries are written for. A Prometheus gate given a Dynatrace
//! query (or the other way round) fails every evaluation, and every problem of a lane then
//! escalates; so the files are refused where they are stored or turned into rules, not when a
//! problem needs them.

use super::dynatrace_query::parse_query;
use super::file::SliFile;
use crate::model::store::SliProviderKind;

/// The prefixes of Keptn's dynatrace-service queries (`MV2;MicroSecond;…`, `PV2;…`).
const DYNATRACE_PREFIXES: [&str; 5] = ["MV2", "PV2", "USQL", "SLO", "SECPV2"];

/// Whether `query` is written in one of Keptn's Dynatrace forms: a prefix such as `MV2;` or
/// `PV2;`, `metricSelector=`, the older `<selector>?scope=`, or a `builtin:` metric key. No
/// PromQL looks like these.
pub fn is_dynatrace_query(query: &str) -> bool {
    let q = query.trim();
    let prefixed = q
        .split_once(';')
        .is_some_and(|(prefix, _)| DYNATRACE_PREFIXES.contains(&prefix.trim()));
    prefixed || q.contains("metricSelector=") || q.contains("?scope=") || q.starts_with("builtin:")
}

/// Why `query` is not one `provider` reads, if it is not.
pub fn wrong_form(query: &str, provider: SliProviderKind) -> Option<String> {
    match provider {
        SliProviderKind::Prometheus => is_dynatrace_query(query).then(|| {
            "is a Dynatrace query, but the provider is prometheus: give the provider dynatrace, or write the query in PromQL".to_string()
        }),
        SliProviderKind::Dynatrace => match parse_query(query) {
            Err(e) => Some(format!(
                "is not a Dynatrace query ({e}); if it is PromQL, give the provider prometheus"
            )),
            // A bare metric selector parses too; label matchers in braces are PromQL's.
            Ok(_) if query.contains('{') => Some(
                "looks like PromQL (label matchers in braces), but the provider is dynatrace: give the provider prometheus, or write metricSelector=<metric key>…".to_string(),
            ),
            Ok(_) => None,
        },
    }
}

/// Each indicator of `sli` whose query is not one `provider` reads, as
/// `indicators.<name>: <why>`.
pub fn wrong_provider(sli: &SliFile, provider: SliProviderKind) -> Vec<String> {
    sli.indicators
        .iter()
        .filter_map(|(name, query)| {
            wrong_form(query, provider).map(|why| format!("indicators.{name}: {why}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMQL: &str =
        "sum(rate(http_requests_total{job=\"$SERVICE-$STAGE\"}[$DURATION_SECONDS]))";
    const MV2: &str = "MV2;MicroSecond;metricSelector=builtin:service.response.time:avg&entitySelector=type(SERVICE)";
    const PV2: &str = "PV2;problemSelector=status(\"open\")&entitySelector=type(SERVICE)";
    const SELECTOR: &str = "metricSelector=builtin:service.errors.total.rate:avg";

    #[test]
    fn dynatrace_forms_are_told_from_promql() {
        for q in [
            MV2,
            PV2,
            SELECTOR,
            "builtin:service.response.time:avg?scope=tag(x)",
        ] {
            assert!(is_dynatrace_query(q), "{q}");
        }
        for q in [PROMQL, "up", "100 * sum(rate(x[5m]))"] {
            assert!(!is_dynatrace_query(q), "{q}");
        }
    }

    #[test]
    fn a_query_for_the_other_provider_is_refused_with_the_fix() {
        use SliProviderKind::{Dynatrace, Prometheus};
        assert_eq!(wrong_form(PROMQL, Prometheus), None);
        assert_eq!(wrong_form(MV2, Dynatrace), None);
        assert_eq!(wrong_form(PV2, Dynatrace), None);
        assert_eq!(wrong_form(SELECTOR, Dynatrace), None);
        let why = wrong_form(MV2, Prometheus).unwrap();
        assert!(
            why.starts_with("is a Dynatrace query, but the provider is prometheus"),
            "{why}"
        );
        let why = wrong_form(PROMQL, Dynatrace).unwrap();
        assert!(why.contains("give the provider prometheus"), "{why}");
    }

    #[test]
    fn every_indicator_is_checked_and_named() {
        let sli = SliFile {
            spec_version: Some("1.0".into()),
            indicators: [
                ("a".to_string(), PROMQL.to_string()),
                ("b".into(), MV2.into()),
            ]
            .into_iter()
            .collect(),
        };
        let problems = wrong_provider(&sli, SliProviderKind::Prometheus);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("indicators.b: is a Dynatrace query"),
            "{problems:?}"
        );
    }
}
