//! Text limits of the APIs we write to (CodePipeline summaries, messages, ids).

/// At most `limit` characters (the APIs count characters, not bytes); a cut text ends with
/// `…` so a reader sees that something is missing.
pub fn truncate_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some(_) if limit == 0 => String::new(),
        Some(_) => {
            let keep = limit.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn cuts_by_characters_and_marks_the_cut() {
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("exactly", 7), "exactly");
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("ééééé", 3).chars().count(), 3);
        assert_eq!(truncate_chars("abc", 0), "");
    }
}
