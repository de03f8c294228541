//! Checks across a configuration's parts, once each part has been read: metrics in the right
//! scope, a baseline for every relative check, tolerances that do what they say.

use std::collections::BTreeSet;

use super::{join, Reader};
use crate::monspec::model::{
    Comparison, Direction, EntityType, ServiceMethod, Signature, SignatureSubject,
};

impl Reader {
    /// Service-method metrics only make sense under `servicemethods`, and the other way round.
    pub(super) fn check_metric_scopes(
        &mut self,
        path: &str,
        etype: EntityType,
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        for (i, sig) in service.iter().enumerate() {
            if let SignatureSubject::Timeseries(id) = &sig.subject {
                if crate::monspec::catalog::is_service_method_metric(id) {
                    self.problem(
                        &format!("{path}.perfsignature[{i}].timeseries"),
                        format!("\"{id}\" is a service-method metric: move it under servicemethods[].perfsignature"),
                    );
                } else if let Some(expected) = crate::monspec::catalog::entity_type_of(id) {
                    if expected != etype {
                        self.problem(
                            &format!("{path}.perfsignature[{i}].timeseries"),
                            format!(
                                "\"{id}\" is measured on {expected} entities, but etype is {etype}"
                            ),
                        );
                    }
                }
            }
        }
        for (m, method) in methods.iter().enumerate() {
            for (i, sig) in method.perfsignature.iter().enumerate() {
                match &sig.subject {
                    SignatureSubject::Timeseries(id) if !crate::monspec::catalog::is_service_method_metric(id) => self.problem(
                        &format!("{path}.servicemethods[{m}].perfsignature[{i}].timeseries"),
                        format!("\"{id}\" is not a service-method metric (use e.g. com.dynatrace.builtin:servicemethod.responsetime)"),
                    ),
                    SignatureSubject::Smartscape(_) => self.problem(
                        &format!("{path}.servicemethods[{m}].perfsignature[{i}].smartscape"),
                        "smartscape signatures apply to the configuration's entities: move it to the top-level perfsignature",
                    ),
                    _ => {}
                }
            }
        }
    }

    /// A relative check needs a baseline. A comparison without `compare` can only be used with
    /// signatures that have static limits.
    pub(super) fn check_relative_signatures_have_baseline(
        &mut self,
        path: &str,
        comparisons: &[Comparison],
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        let relative_count = service
            .iter()
            .chain(methods.iter().flat_map(|m| m.perfsignature.iter()))
            .filter(|s| !s.has_static_limits())
            .count();
        if relative_count == 0 {
            return;
        }
        for (i, cmp) in comparisons.iter().enumerate() {
            if cmp.compare.is_none() {
                self.problem(
                    &format!("{path}.comparisons[{i}].compare"),
                    format!(
                        "is missing, but {relative_count} signature(s) have no upperlimit/lowerlimit and need a baseline: name the compare environment or set static limits"
                    ),
                );
            }
        }
    }

    /// Tolerances that would silently not do what they say: a key naming no signature falls
    /// back to `default`; a `lower` relative check with 100 % or more has a limit of 0 or
    /// less and can never fail on a non-negative metric.
    pub(super) fn check_scale_factors(
        &mut self,
        path: &str,
        comparisons: &[Comparison],
        service: &[Signature],
        methods: &[ServiceMethod],
    ) {
        let signatures: Vec<&Signature> = service
            .iter()
            .chain(methods.iter().flat_map(|m| m.perfsignature.iter()))
            .collect();
        let mut ids: Vec<String> = signatures.iter().map(|s| s.metric_id()).collect();
        ids.sort();
        ids.dedup();
        for (i, cmp) in comparisons.iter().enumerate() {
            let sf_path = format!("{path}.comparisons[{i}].scalefactorperc");
            for (key, _) in &cmp.scale_factors.per_metric {
                if !ids.contains(key) {
                    self.problem(
                        &join(&sf_path, key),
                        format!(
                            "names no signature of {path}, so it would silently fall back to default (signatures: {}); fix the metric id or remove the entry",
                            ids.join(", ")
                        ),
                    );
                }
            }
            let mut reported = BTreeSet::new();
            for s in signatures
                .iter()
                .filter(|s| s.validate == Direction::Lower && !s.has_static_limits())
            {
                let id = s.metric_id();
                let factor = cmp.scale_factors.for_metric(&id);
                let key = if cmp.scale_factors.per_metric.iter().any(|(k, _)| *k == id) {
                    id.clone()
                } else {
                    "default".to_string()
                };
                if factor >= 100.0 && reported.insert(key.clone()) {
                    self.problem(
                        &join(&sf_path, &key),
                        format!(
                            "{factor}% makes the lower limit of {id} the baseline minus {factor}%, 0 or less, so the check can never fail; use less than 100"
                        ),
                    );
                }
            }
        }
    }
}
