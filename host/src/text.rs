//! Small text helpers shared across modules.

/// Cut `s` to at most `max` bytes on a character boundary, appending `marker` when
/// something was cut (so readers know the text is incomplete).
pub fn truncate(s: &mut String, max: usize, marker: &str) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str(marker);
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_on_a_character_boundary() {
        let mut s = "aé".repeat(3);
        super::truncate(&mut s, 4, " …");
        assert_eq!(s, "aéa …");
        let mut short = "ok".to_string();
        super::truncate(&mut short, 4, " …");
        assert_eq!(short, "ok");
    }
}
