//! Parsing the selector languages the client sends: v2 entity selectors, metric selectors,
//! event selectors, and v1 tag filters. Only what Dynatrace documents, and only the subset
//! the simulator serves; anything else is a 400, as on a real tenant.

use super::model::{EntityDef, TagDef, World};

/// Split at top-level commas (outside parentheses and quotes; `~` escapes inside quotes).
pub fn split_top_level(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut current = String::new();
    for c in text.chars() {
        if in_quotes {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '~' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `name(args)` → (name, args).
pub fn call(text: &str) -> Option<(&str, &str)> {
    let open = text.find('(')?;
    let inner = text[open + 1..].strip_suffix(')')?;
    Some((&text[..open], inner))
}

/// `"a~"b"` → `a"b`.
pub fn unquote(text: &str) -> Result<String, String> {
    let inner = text
        .trim()
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(|| format!("expected a quoted string, found {text}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            out.push(chars.next().ok_or("dangling ~ escape")?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// A tag filter `key`, `key:value` or `[context]key:value`; `\:` is a literal colon (v2).
pub fn parse_tag(text: &str) -> TagDef {
    let (context, rest) = match text.strip_prefix('[').and_then(|t| t.split_once(']')) {
        Some((ctx, rest)) => (ctx.to_string(), rest),
        None => ("CONTEXTLESS".to_string(), text),
    };
    let mut key = String::new();
    let mut value: Option<String> = None;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        let literal = match c {
            '\\' => chars.next(),
            ':' if value.is_none() => {
                value = Some(String::new());
                None
            }
            c => Some(c),
        };
        if let Some(c) = literal {
            match &mut value {
                Some(v) => v.push(c),
                None => key.push(c),
            }
        }
    }
    TagDef {
        context,
        key,
        value,
    }
}

pub fn has_tag(entity: &EntityDef, wanted: &TagDef) -> bool {
    entity.tags.iter().any(|t| {
        t.context.eq_ignore_ascii_case(&wanted.context)
            && t.key == wanted.key
            && (wanted.value.is_none() || wanted.value == t.value)
    })
}

/// One criterion of an entity selector.
#[derive(Debug, Clone)]
pub enum Criterion {
    Type(String),
    Tag(TagDef),
    EntityId(Vec<String>),
    NameEquals(String),
    Related {
        from: bool,
        relationship: String,
        inner: EntitySelector,
    },
}

#[derive(Debug, Clone)]
pub struct EntitySelector {
    pub criteria: Vec<Criterion>,
}

impl EntitySelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut criteria = Vec::new();
        for part in split_top_level(text, ',') {
            let (name, args) = call(&part)
                .ok_or_else(|| format!("cannot parse entity selector criterion \"{part}\""))?;
            let quoted_list = |args: &str| {
                split_top_level(args, ',')
                    .iter()
                    .map(|a| unquote(a))
                    .collect::<Result<Vec<_>, _>>()
            };
            criteria.push(match name {
                "type" => Criterion::Type(
                    unquote(args)
                        .unwrap_or_else(|_| args.trim().to_string())
                        .to_ascii_uppercase(),
                ),
                "tag" => Criterion::Tag(parse_tag(&unquote(args)?)),
                "entityId" => Criterion::EntityId(quoted_list(args)?),
                "entityName.equals" | "entityName" => Criterion::NameEquals(unquote(args)?),
                rel if rel.starts_with("fromRelationships.")
                    || rel.starts_with("toRelationships.")
                    || rel.starts_with("fromRelationship.")
                    || rel.starts_with("toRelationship.") =>
                {
                    let (direction, relationship) = rel.split_once('.').expect("checked");
                    Criterion::Related {
                        from: direction.starts_with("from"),
                        relationship: relationship.to_string(),
                        inner: EntitySelector::parse(args)?,
                    }
                }
                other => return Err(format!("unsupported entity selector criterion \"{other}\"")),
            });
        }
        if !criteria
            .iter()
            .any(|c| matches!(c, Criterion::Type(_) | Criterion::EntityId(_)))
        {
            return Err("the entity selector needs a type(...) or entityId(...) criterion".into());
        }
        Ok(EntitySelector { criteria })
    }

    pub fn matches(&self, world: &World, entity: &EntityDef) -> bool {
        self.criteria.iter().all(|c| match c {
            Criterion::Type(t) => entity.entity_type.eq_ignore_ascii_case(t),
            Criterion::Tag(tag) => has_tag(entity, tag),
            Criterion::EntityId(ids) => ids.contains(&entity.entity_id),
            Criterion::NameEquals(name) => &entity.display_name == name,
            Criterion::Related {
                from,
                relationship,
                inner,
            } => {
                let related = if *from {
                    entity.from_relationships.get(relationship)
                } else {
                    entity.to_relationships.get(relationship)
                };
                related
                    .into_iter()
                    .flatten()
                    .filter_map(|id| world.entity(id))
                    .any(|other| inner.matches(world, other))
            }
        })
    }

    pub fn select<'w>(&self, world: &'w World) -> Vec<&'w EntityDef> {
        world
            .entities
            .iter()
            .filter(|e| self.matches(world, e))
            .collect()
    }
}

/// One metric expression: `key[:transformation…]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricExpression {
    pub text: String,
    pub key: String,
    pub split_by: Option<Vec<String>>,
    /// Dimensions dropped by `:merge("<dim>")` (`:merge(0)` is the first, the entity).
    pub merged: Vec<String>,
    pub aggregation: Option<(String, Option<f64>)>,
    pub names: bool,
}

const TRANSFORMATIONS: [&str; 16] = [
    "splitBy",
    "avg",
    "min",
    "max",
    "sum",
    "count",
    "median",
    "percentile",
    "value",
    "auto",
    "names",
    "fold",
    "merge",
    "filter",
    "sort",
    "limit",
];

impl MetricExpression {
    pub fn parse(text: &str) -> Result<Self, String> {
        let segments = split_top_level(text, ':');
        let first_transform = segments
            .iter()
            .position(|s| TRANSFORMATIONS.contains(&s.split('(').next().unwrap_or_default()))
            .unwrap_or(segments.len());
        if first_transform == 0 {
            return Err("Metric selector parse error".into());
        }
        let mut expr = MetricExpression {
            text: text.to_string(),
            key: segments[..first_transform].join(":"),
            split_by: None,
            merged: Vec::new(),
            aggregation: None,
            names: false,
        };
        for segment in &segments[first_transform..] {
            let (name, args) = call(segment).unwrap_or((segment.as_str(), ""));
            match name {
                "splitBy" => {
                    expr.split_by = Some(
                        split_top_level(args, ',')
                            .iter()
                            .map(|a| unquote(a))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "merge" => {
                    for arg in split_top_level(args, ',') {
                        // Dynatrace's older form names the dimension by its index.
                        expr.merged.push(if arg == "0" {
                            "0".to_string()
                        } else {
                            unquote(&arg)?
                        });
                    }
                }
                "names" => expr.names = true,
                "percentile" => {
                    expr.aggregation = Some((
                        "percentile".into(),
                        Some(args.trim().parse().map_err(|_| {
                            "Metric selector parse error: percentile needs a number".to_string()
                        })?),
                    ))
                }
                "avg" | "min" | "max" | "sum" | "count" | "median" | "value" | "auto" => {
                    expr.aggregation = Some((name.to_string(), None))
                }
                other => {
                    return Err(format!(
                        "the simulator does not support the transformation :{other}"
                    ))
                }
            }
        }
        Ok(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_unescape_colons_and_keep_context() {
        let t = parse_tag(r"[AWS]app\:tier:web");
        assert_eq!(
            (t.context.as_str(), t.key.as_str(), t.value.as_deref()),
            ("AWS", "app:tier", Some("web"))
        );
        assert_eq!(parse_tag("keyonly").value, None);
    }

    #[test]
    fn metric_expressions_split_key_and_transformations() {
        let e = MetricExpression::parse(r#"builtin:service.keyRequest.response.time:splitBy("dt.entity.service_method"):percentile(90):names"#).unwrap();
        assert_eq!(e.key, "builtin:service.keyRequest.response.time");
        assert_eq!(
            e.split_by,
            Some(vec!["dt.entity.service_method".to_string()])
        );
        assert_eq!(e.aggregation, Some(("percentile".into(), Some(90.0))));
        assert!(e.names);
        let m = MetricExpression::parse(
            r#"builtin:service.response.time:merge("dt.entity.service"):avg"#,
        )
        .unwrap();
        assert_eq!(
            (m.split_by, m.merged, m.aggregation),
            (
                None,
                vec!["dt.entity.service".to_string()],
                Some(("avg".into(), None))
            )
        );
        assert_eq!(MetricExpression::parse("k:merge(0)").unwrap().merged, ["0"]);
        let parts = split_top_level(r#"a:splitBy():avg,b:splitBy("x","y"):max"#, ',');
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn quoted_values_unescape_tildes() {
        assert_eq!(unquote(r#""we~"b~~1""#).unwrap(), "we\"b~1");
    }
}
