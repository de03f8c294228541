//! Placeholders in sli.yaml queries, as Keptn's SLI providers fill them: `$PROJECT`,
//! `$STAGE`, `$SERVICE`, `$DEPLOYMENT`, `$DURATION_SECONDS` (e.g. `300s`), `$LABEL.<key>`,
//! and `$<key>` for each key of the slo.yaml `filter`.

use std::collections::BTreeMap;

/// Where and what is evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SliContext {
    pub project: String,
    pub stage: String,
    pub service: String,
    pub deployment: String,
    pub labels: BTreeMap<String, String>,
}

/// The query with every placeholder replaced; longer names first, so `$SERVICE` never eats
/// the start of `$SERVICE_NAME`.
pub fn substitute(
    query: &str,
    context: &SliContext,
    filter: &BTreeMap<String, String>,
    window_ms: i64,
) -> String {
    let mut pairs: Vec<(String, String)> = vec![
        ("$PROJECT".into(), context.project.clone()),
        ("$STAGE".into(), context.stage.clone()),
        ("$SERVICE".into(), context.service.clone()),
        ("$DEPLOYMENT".into(), context.deployment.clone()),
        (
            "$DURATION_SECONDS".into(),
            format!("{}s", (window_ms / 1000).max(1)),
        ),
    ];
    pairs.extend(
        context
            .labels
            .iter()
            .map(|(k, v)| (format!("$LABEL.{k}"), v.clone())),
    );
    pairs.extend(filter.iter().map(|(k, v)| (format!("${k}"), v.clone())));
    pairs.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    pairs
        .into_iter()
        .fold(query.to_string(), |q, (name, value)| {
            q.replace(&name, &value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_longest_first() {
        let context = SliContext {
            project: "sockshop".into(),
            stage: "staging".into(),
            service: "carts".into(),
            deployment: "canary".into(),
            labels: [("version".to_string(), "4".to_string())].into(),
        };
        let filter = [("SERVICE_NAME".to_string(), "carts-db".to_string())].into();
        let q = substitute(
            "rate(x{job=\"$SERVICE-$STAGE\",p=\"$PROJECT\",d=\"$DEPLOYMENT\",v=\"$LABEL.version\",n=\"$SERVICE_NAME\"}[$DURATION_SECONDS])",
            &context,
            &filter,
            300_000,
        );
        assert_eq!(
            q,
            "rate(x{job=\"carts-staging\",p=\"sockshop\",d=\"canary\",v=\"4\",n=\"carts-db\"}[300s])"
        );
    }
}
