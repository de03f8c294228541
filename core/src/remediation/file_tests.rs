//! remediation.yaml: both generations, each action form, each bad input's message, matching.

use super::file::*;

fn parse(text: &str) -> RemediationFile {
    parse_remediation("remediation.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(text: &str) -> String {
    parse_remediation("remediation.yaml", text)
        .map(|f| panic!("expected problems, got {f:?}"))
        .unwrap_err()
        .to_string()
}

const LEGACY: &str = "\
remediations:
- name: Response time degradation
  actions:
  - action: scaling
    value: +1
- name: Failure rate increase
  actions:
  - action: featuretoggle
    value: EnablePromotion:off
";

const SPEC_014: &str = "\
apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
  - problemType: Failure rate increase
    actionsOnOpen:
    - name: Toogle feature flag
      action: toggle-feature
      description: Toogle feature flag EnablePromotion to OFF
      value:
        EnablePromotion: off
      wait: 5m
  - problemType: default
    actionsOnOpen:
    - name: Escalate
      action: escalate
      description: Tell a person
      value: \"\"
";

#[test]
fn the_legacy_layout_of_seed_000_reads_as_scaling_and_a_toggle() {
    let file = parse(LEGACY);
    assert_eq!(file.generation, Generation::Legacy);
    let actions: Vec<_> = file
        .entries
        .iter()
        .map(|e| {
            (
                e.problem_type.as_str(),
                e.actions[0].action.clone(),
                e.actions[0].wait_ms,
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (
                "Response time degradation",
                Action::Scaling { by: 1 },
                600_000
            ),
            (
                "Failure rate increase",
                Action::FeatureToggle {
                    toggles: vec![FlagToggle {
                        flag: "EnablePromotion".into(),
                        enabled: false
                    }]
                },
                600_000
            ),
        ]
    );
}

#[test]
fn the_spec_0_1_4_layout_reads_with_an_unquoted_off_as_false_and_its_wait() {
    let file = parse(SPEC_014);
    assert_eq!(file.generation, Generation::Spec014);
    let toggle = &file.entries[0].actions[0];
    assert_eq!(toggle.name, "Toogle feature flag");
    assert_eq!(
        toggle.action,
        Action::FeatureToggle {
            toggles: vec![FlagToggle {
                flag: "EnablePromotion".into(),
                enabled: false
            }]
        }
    );
    assert_eq!(toggle.wait_ms, 300_000);
    assert_eq!(
        file.entries[1].actions[0].action,
        Action::Escalate {
            comment: "Tell a person".into(),
            webhook: None
        },
        "an empty escalate value comments with the description"
    );
}

fn legacy_action(action: &str, value: &str) -> String {
    format!("remediations:\n- name: P\n  actions:\n  - action: {action}\n    value: {value}\n")
}

#[test]
fn every_accepted_action_form() {
    let on = |flag: &str, enabled| FlagToggle {
        flag: flag.into(),
        enabled,
    };
    let cases = [
        (
            "scaling_plus_one",
            "scaling",
            "+1",
            Action::Scaling { by: 1 },
        ),
        (
            "scaling_quoted_one",
            "scaling",
            "\"1\"",
            Action::Scaling { by: 1 },
        ),
        (
            "scaling_quoted_plus_two",
            "scaling",
            "\"+2\"",
            Action::Scaling { by: 2 },
        ),
        (
            "scaling_minus_one",
            "scaling",
            "-1",
            Action::Scaling { by: -1 },
        ),
        (
            "toggle_text_on",
            "featuretoggle",
            "Flag:on",
            Action::FeatureToggle {
                toggles: vec![on("Flag", true)],
            },
        ),
        (
            "toggle_text_off_upper",
            "togglefeature",
            "Flag:OFF",
            Action::FeatureToggle {
                toggles: vec![on("Flag", false)],
            },
        ),
        (
            "toggle_map_quoted",
            "toggle-feature",
            "{Flag: \"off\"}",
            Action::FeatureToggle {
                toggles: vec![on("Flag", false)],
            },
        ),
        (
            "toggle_map_yaml11_bool",
            "toggle-feature",
            "{A: on, B: off}",
            Action::FeatureToggle {
                toggles: vec![on("A", true), on("B", false)],
            },
        ),
        (
            "toggle_map_plain_bool",
            "toggle-feature",
            "{A: true}",
            Action::FeatureToggle {
                toggles: vec![on("A", true)],
            },
        ),
        ("rollback_empty", "rollback", "\"\"", Action::Rollback),
        (
            "escalate_comment",
            "escalate",
            "Page the on-call team",
            Action::Escalate {
                comment: "Page the on-call team".into(),
                webhook: None,
            },
        ),
        (
            "escalate_webhook",
            "escalate",
            "{comment: Look, webhook: \"https://hooks.example.com/x\"}",
            Action::Escalate {
                comment: "Look".into(),
                webhook: Some("https://hooks.example.com/x".into()),
            },
        ),
    ];
    for (case, action, value, expected) in cases {
        let file = parse_remediation("r.yaml", &legacy_action(action, value))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(file.entries[0].actions[0].action, expected, "{case}");
    }
}

#[test]
fn every_bad_action_form_names_its_place_and_the_fix() {
    let cases = [
        ("scaling_zero", "scaling", "0", "r.yaml:5:12: remediations[0].actions[0].value: 0 changes nothing; write the number of instances to add or remove, e.g. `value: +1`"),
        ("scaling_fraction", "scaling", "0.5", "r.yaml:5:12: remediations[0].actions[0].value: 0.5 is a fraction, but scaling adds or removes whole instances"),
        ("scaling_quoted_fraction", "scaling", "\"1.5\"", "\"1.5\" is a fraction"),
        ("scaling_word", "scaling", "one", "\"one\" is not a whole number; write the number"),
        ("scaling_map", "scaling", "{by: 1}", "is a map, not a whole number"),
        ("toggle_no_state", "featuretoggle", "EnablePromotion", "\"EnablePromotion\" names no state; write `value: EnablePromotion:off`"),
        ("toggle_bad_state", "featuretoggle", "EnablePromotion:maybe", "the state of EnablePromotion is \"maybe\", not on or off"),
        ("toggle_no_flag", "featuretoggle", "\":off\"", "\"\" is not an Unleash flag name"),
        ("toggle_empty_map", "featuretoggle", "{}", "is a map, not a flag and its state"),
        ("toggle_number_state", "featuretoggle", "{Flag: 1}", "the state of Flag is 1, not on or off"),
        ("rollback_with_value", "rollback", "+1", "is 1, but rollback takes no value (it redeploys the last good revision): remove `value`"),
        ("escalate_bad_webhook", "escalate", "{webhook: \"ftp://x\"}", "webhook to x uses FTP: it must be an https URL to a public host"),
        ("escalate_unknown_field", "escalate", "{channel: ops}", "\"channel\" is not a field of escalate"),
        ("unknown_action", "scale", "+1", "r.yaml:4:13: remediations[0].actions[0].action: \"scale\" is not an action this engine runs: use scaling, featuretoggle (also toggle-feature, togglefeature), rollback or escalate"),
    ];
    for (case, action, value, expected) in cases {
        let e = parse_remediation("r.yaml", &legacy_action(action, value))
            .map(|f| panic!("{case}: expected a problem, got {f:?}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{case}:\n{e}\nexpected: {expected}");
    }
    let missing = problems("remediations:\n- name: P\n  actions:\n  - action: scaling\n");
    assert!(
        missing.contains(
            "remediations[0].actions[0].value: is missing: write the number of instances"
        ),
        "{missing}"
    );
}

#[test]
fn bad_waits_say_to_write_a_unit() {
    for (case, wait, expected) in [
        (
            "number_without_unit",
            "10",
            "10 has no unit; write a duration with its unit, e.g. `wait: 10m`",
        ),
        ("not_a_duration", "soon", "\"soon\" is not a duration"),
        (
            "zero",
            "0s",
            "\"0s\" would evaluate before the action can show any effect",
        ),
    ] {
        let e = problems(&format!(
            "remediations:\n- name: P\n  actions:\n  - action: rollback\n    wait: {wait}\n"
        ));
        assert!(
            e.contains("remediation.yaml:5:11: remediations[0].actions[0].wait: "),
            "{case}: {e}"
        );
        assert!(e.contains(expected), "{case}: {e}");
    }
}

/// Seed 001's file, as the tutorial printed it.
const SEED_001: &str = "\
remediations:
- name: Response time degradation
actions:
- action: scaling
    value: +1
";

#[test]
fn seed_001s_mis_indented_value_names_both_lines_and_the_column_to_move_to() {
    let e = problems(SEED_001);
    assert!(e.starts_with("remediation.yaml:5:10: "), "{e}");
    assert!(e.contains("mapping values are not allowed"), "{e}");
    assert!(
        e.contains("`value:` on line 5 starts at column 5, deeper than `action:` on line 4 (column 3), so YAML reads it as part of that line's value: move `value` to column 3 so that it lines up with `action`"),
        "{e}"
    );
}

#[test]
fn seed_001_with_value_fixed_says_actions_slipped_to_the_top_level() {
    let e = problems(&SEED_001.replace("    value", "  value"));
    assert!(
        e.contains("remediation.yaml:2:3: remediations[0].actions: is missing: list what to do for \"Response time degradation\""),
        "{e}"
    );
    assert!(
        e.contains("remediation.yaml:4:3: actions: is at the top level, but actions belong to one remediation: indent `actions:` under its `- name:`"),
        "{e}"
    );
}

#[test]
fn bad_layouts_name_the_place_and_the_fix() {
    let cases = [
        ("empty_document", "{}", "remediation.yaml:1:1: has no remediations: remediation.yaml is either `remediations:"),
        ("wrong_api_version", &SPEC_014.replace("0.1.4", "0.2.0"), "remediation.yaml:1:13: apiVersion: \"spec.keptn.sh/0.2.0\" is not spec.keptn.sh/0.1.4"),
        ("wrong_kind", &SPEC_014.replace("kind: Remediation", "kind: Shipyard"), "remediation.yaml:2:7: kind: \"Shipyard\" is not Remediation"),
        ("no_spec", "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\n", "spec: is missing: add `spec: {remediations: [...]}`"),
        ("legacy_fields_in_0_1_4", &SPEC_014.replace("problemType: default", "name: default"), "spec.remediations[1].name: is not a field here: spec.keptn.sh/0.1.4 uses `problemType` and `actionsOnOpen`"),
        ("0_1_4_fields_in_legacy", &LEGACY.replace("- name: Failure", "- problemType: Failure"), "remediations[1].problemType: is not a field here: the legacy layout uses `name` and `actions`"),
        ("kind_without_api_version", &format!("kind: Remediation\n{LEGACY}"), "kind: belongs to the spec.keptn.sh/0.1.4 layout"),
        ("legacy_list_beside_api_version", &format!("{SPEC_014}remediations: []\n"), "remediations: is the legacy layout, but the file has an apiVersion"),
        ("duplicate_entry", &format!("{LEGACY}- name: Response time degradation\n  actions:\n  - action: rollback\n"), "remediation.yaml:10:3: remediations[2]: \"Response time degradation\" has an entry already on line 2: this one would never be used"),
        ("empty_actions", "remediations:\n- name: P\n  actions: []\n", "remediations[0].actions: is empty"),
        ("no_title", "remediations:\n- actions:\n  - action: rollback\n", "remediations[0].name: is missing: the problem title"),
        ("no_action_kind", "remediations:\n- name: P\n  actions:\n  - value: +1\n", "remediations[0].actions[0].action: is missing: name one of scaling"),
        ("unknown_field", "remediations:\n- name: P\n  actions:\n  - action: rollback\n    valeu: 1\n", "remediation.yaml:5:5: unknown field `valeu`"),
    ];
    for (case, text, expected) in cases {
        let e = problems(text);
        assert!(e.contains(expected), "{case}:\n{e}\nexpected: {expected}");
    }
}

#[test]
fn matching_is_exact_title_then_default_with_the_reason() {
    let file = parse(SPEC_014);
    let exact = file.plan_for("Failure rate increase", None);
    assert_eq!(exact.reason, MatchReason::ExactTitle);
    assert_eq!(
        exact.why,
        "the entry on line 7 names the problem \"Failure rate increase\""
    );
    let fallback = file.plan_for("failure rate increase", None);
    assert_eq!(
        (fallback.reason, fallback.entry.as_deref()),
        (MatchReason::Default, Some("default"))
    );
    assert_eq!(
        fallback.why,
        "no entry names \"failure rate increase\"; the default entry on line 15 applies (the entry on line 7 says \"Failure rate increase\": titles must match exactly, letter case and spaces included)"
    );
    let none = parse(LEGACY).plan_for("CPU saturation", None);
    assert_eq!((none.reason, none.actions.len()), (MatchReason::NoEntry, 0));
    assert_eq!(
        none.why,
        "no remediation for \"CPU saturation\": no entry names it and there is no default entry"
    );
}

#[test]
fn an_alert_is_matched_by_its_alertname_then_by_its_summary_keptns_problem_title() {
    let file = parse(LEGACY);
    let summary = file.plan_for("rt_p90", Some("Response time degradation"));
    assert_eq!(
        (summary.reason, summary.entry.as_deref()),
        (MatchReason::Summary, Some("Response time degradation"))
    );
    assert_eq!(
        summary.why,
        "the entry on line 2 names the alert's summary \"Response time degradation\" (annotations.summary, Keptn's problem title)"
    );
    let alertname = file.plan_for("Failure rate increase", Some("Response time degradation"));
    assert_eq!(
        (alertname.reason, alertname.entry.as_deref()),
        (MatchReason::ExactTitle, Some("Failure rate increase")),
        "the alertname wins"
    );
    let fallback = parse(SPEC_014).plan_for("rt_p90", Some("failure rate increase"));
    assert_eq!(fallback.reason, MatchReason::Default);
    assert_eq!(
        fallback.why,
        "no entry names \"rt_p90\" or its summary \"failure rate increase\"; the default entry on line 15 applies (the entry on line 7 says \"Failure rate increase\": titles must match exactly, letter case and spaces included)"
    );
    let none = file.plan_for("rt_p90", Some("CPU saturation"));
    assert_eq!(
        none.why,
        "no remediation for \"rt_p90\" or its summary \"CPU saturation\": no entry names either and there is no default entry"
    );
    let same = file.plan_for("rt_p90", Some("rt_p90"));
    assert_eq!(
        same.why, "no remediation for \"rt_p90\": no entry names it and there is no default entry",
        "a summary equal to the alertname is no second title"
    );
}

#[test]
fn without_a_remediation_file_the_plan_is_the_rollback_alone() {
    let plan = plan_for(None, "Response time degradation", None);
    assert_eq!(plan.reason, MatchReason::NoRemediationFile);
    let actions: Vec<_> = plan.actions.iter().map(|a| a.action.clone()).collect();
    assert_eq!(actions, [Action::Rollback]);
    let file = parse(LEGACY);
    assert_eq!(
        plan_for(Some(&file), "Response time degradation", None).reason,
        MatchReason::ExactTitle
    );
}
