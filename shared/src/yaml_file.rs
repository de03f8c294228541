//! YAML files people write (slo.yaml, sli.yaml, remediation.yaml), read with spans: every
//! problem names the file, line, column and path, and says how to fix it.

use serde::Deserialize;
use serde_saphyr::{Location, Options};

/// One problem of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: u64,
    pub column: u64,
    /// Where in the document, e.g. `objectives[2].pass[0].criteria[1]`.
    pub path: String,
    pub message: String,
}

/// Every problem of a file, each as `file:line:column: path: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| format!("{}:{}:{}: {}{}", .file, p.line, p.column, if p.path.is_empty() { String::new() } else { format!("{}: ", p.path) }, p.message)).collect::<Vec<_>>().join("\n"))]
pub struct FileErrors {
    pub file: String,
    pub problems: Vec<FileProblem>,
}

/// Parse `text` into the raw (spanned) form of a file. A syntax or shape error becomes one
/// problem at its place, followed by `hint` (what the file should look like).
pub(crate) fn parse_yaml<'a, T: Deserialize<'a>>(
    file: &str,
    text: &'a str,
    hint: impl Fn(&serde_saphyr::Error) -> String,
) -> Result<T, FileErrors> {
    let mut options = Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let at = e.location();
        FileErrors {
            file: file.to_string(),
            problems: vec![FileProblem {
                line: at.map_or(1, |l| l.line()),
                column: at.map_or(1, |l| l.column()),
                path: String::new(),
                message: format!("{e}; {}", hint(&e)),
            }],
        }
    })
}

/// The problems found while checking a parsed file.
#[derive(Default)]
pub(crate) struct Problems {
    pub list: Vec<FileProblem>,
}

impl Problems {
    pub fn add(&mut self, at: Location, path: impl Into<String>, message: impl Into<String>) {
        // Problems of the whole document (a missing top-level key) point at its start.
        self.list.push(FileProblem {
            line: at.line().max(1),
            column: at.column().max(1),
            path: path.into(),
            message: message.into(),
        });
    }

    /// `Ok(value)` when nothing was found, else every problem in file order.
    pub fn finish<T>(mut self, file: &str, value: T) -> Result<T, FileErrors> {
        if self.list.is_empty() {
            return Ok(value);
        }
        self.list.sort_by_key(|p| (p.line, p.column));
        Err(FileErrors {
            file: file.to_string(),
            problems: self.list,
        })
    }
}
