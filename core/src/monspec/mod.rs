//! The monspec: the tutorial's "monitoring as code" file, as a typed model with a validating
//! reader and a JSON Schema.

pub mod catalog;
mod model;
mod parse;
pub mod schema;

pub use model::*;
pub use parse::{
    from_value, lint_monspec, lint_value, parse_monspec, without_bom, MonspecError, Problem,
    MAX_SCALE_FACTOR_PERC, MAX_SHIFT_SECS,
};

#[cfg(test)]
mod tests;
