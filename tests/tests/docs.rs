//! The documentation holds together: every relative link in README.md, CHANGELOG.md and
//! docs/**/*.md names a file that exists, every chapter under docs/ is listed in
//! docs/SUMMARY.md (the book's table of contents, in mdBook's format), and the README stays
//! under 300 lines. Links inside code blocks and inline code are not links.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository's root: the parent of this crate's folder, `tests/`.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lies inside the repository")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.md` file under `dir`, recursively, in a stable order.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()))
                .path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The files whose links are checked: README.md, CHANGELOG.md and every docs/**/*.md.
fn documentation() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    files.extend(markdown_files(&root.join("docs")));
    files
}

/// The index of the `)` that closes a link target starting at `text`'s first character
/// (parentheses inside the target nest).
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The targets of the inline links `[text](target)` and images `![alt](target)` in a
/// markdown text, each with its line number; fenced code blocks and inline code (which may
/// run over several lines of one paragraph) are skipped.
fn link_targets(markdown: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    let mut in_code = false;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            in_code = false;
            continue;
        }
        if in_fence {
            continue;
        }
        if trimmed.is_empty() {
            // A code span never runs past its paragraph.
            in_code = false;
            continue;
        }
        let mut prose = String::with_capacity(line.len());
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                // Keep the words apart, so no link is made of text on both sides of code.
                prose.push(' ');
            } else if !in_code {
                prose.push(c);
            }
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = closing_paren(after) else {
                break;
            };
            // A title may follow the target: `[text](file.md "title")`.
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            targets.push((index + 1, target.to_string()));
            rest = &after[end..];
        }
    }
    targets
}

/// The file a link names, relative to the linking file's folder, or `None` for a link that
/// leaves the repository's files (a URL, a mail address) or stays in the page (`#anchor`).
fn linked_file(from: &Path, target: &str) -> Option<PathBuf> {
    let lower = target.to_ascii_lowercase();
    if target.is_empty()
        || target.starts_with('#')
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
    {
        return None;
    }
    let path = target.split('#').next().unwrap_or(target);
    let path = path.split('?').next().unwrap_or(path);
    let folder = from.parent().expect("a file lies in a folder");
    Some(folder.join(path))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_relative_link_in_the_documentation_names_a_file_that_exists() {
    let mut broken = Vec::new();
    let mut checked = 0usize;
    for file in documentation() {
        let text = read(&file);
        for (line, target) in link_targets(&text) {
            let Some(linked) = linked_file(&file, &target) else {
                continue;
            };
            checked += 1;
            if !linked.exists() {
                broken.push(format!(
                    "{}:{line}: the link to \"{target}\" names {}, which does not exist",
                    shown(&file),
                    shown(&linked)
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} relative links found: is the link reader broken?"
    );
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn every_chapter_under_docs_is_listed_in_the_summary() {
    let docs = repo_root().join("docs");
    let summary_path = docs.join("SUMMARY.md");
    let summary = read(&summary_path);
    let listed: BTreeSet<PathBuf> = link_targets(&summary)
        .into_iter()
        .filter_map(|(_, target)| linked_file(&summary_path, &target))
        .filter_map(|path| fs::canonicalize(path).ok())
        .collect();
    let mut missing = Vec::new();
    for chapter in markdown_files(&docs) {
        if chapter == summary_path {
            continue;
        }
        let canonical = fs::canonicalize(&chapter)
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", chapter.display()));
        if !listed.contains(&canonical) {
            missing.push(shown(&chapter));
        }
    }
    assert!(
        missing.is_empty(),
        "not listed in docs/SUMMARY.md (add a `- [Title](file.md)` line for each): {}",
        missing.join(", ")
    );
}

#[test]
fn the_readme_stays_under_300_lines() {
    let lines = read(&repo_root().join("README.md")).lines().count();
    assert!(
        lines < 300,
        "README.md has {lines} lines, at most 299 are kept: move the detail to a chapter of docs/"
    );
}

#[test]
fn the_link_reader_skips_code_and_keeps_anchors_apart() {
    let text = "See [the guide](docs/local.md#options) and ![a picture](docs/report.png \"t\").\n\
                `[not](a-link.md)` and\n\
                ```\n\
                [neither](in-a-fence.md)\n\
                ```\n\
                [a URL](https://example.com) [an anchor](#here) [nested](a_(b).md)\n";
    let targets: Vec<String> = link_targets(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        targets,
        [
            "docs/local.md#options",
            "docs/report.png",
            "https://example.com",
            "#here",
            "a_(b).md"
        ]
    );
    let from = Path::new("/repo/README.md");
    assert_eq!(
        linked_file(from, "docs/local.md#options"),
        Some(PathBuf::from("/repo/docs/local.md"))
    );
    assert_eq!(linked_file(from, "https://example.com"), None);
    assert_eq!(linked_file(from, "#here"), None);
}
