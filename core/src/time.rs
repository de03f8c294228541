//! Wall-clock time as the store and the APIs keep it: milliseconds since the Unix epoch; and
//! the instants and windows people type (`--start`, `--end`, `--window`). The core reads no
//! clock: "now" is always a parameter (the app crate's `time::now_ms` reads it).

/// An epoch number below this is seconds, at or above it milliseconds: 10^11 seconds is the
/// year 5138, 10^11 milliseconds is March 1973, so no instant a gate asks about is both.
pub const EPOCH_SECONDS_BELOW: i64 = 100_000_000_000;

/// The earliest instant a window may touch, 2000-01-01T00:00:00Z: no monitoring keeps data
/// that old, so an earlier one is a mistake (`--end 0`, a window longer than its end).
pub const EARLIEST_MS: i64 = 946_684_800_000;

/// An instant as RFC 3339 (`2026-11-21T10:00:00Z`, with any offset), epoch seconds (below
/// [`EPOCH_SECONDS_BELOW`]) or epoch milliseconds: milliseconds since the epoch.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(number) = text.parse::<i64>() {
        return Ok(if number.unsigned_abs() < EPOCH_SECONDS_BELOW as u64 {
            number.saturating_mul(1000)
        } else {
            number
        });
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or_else(|| {
            format!("\"{text}\" is not a time: use RFC 3339 (2026-11-21T10:00:00Z), epoch seconds (1795255200) or epoch milliseconds (1795255200000)")
        })
}

/// An instant as RFC 3339 in UTC, for messages.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{ms} ms after the epoch"))
}

/// The window `(start_ms, end_ms)` from `--start`/`--end`/`--window` as typed (`end` defaults
/// to `now_ms`, also for `now`): refused, with the reason, when it is empty or reaches before
/// [`EARLIEST_MS`]. Messages name the flags.
pub fn window(
    start: Option<&str>,
    end: Option<&str>,
    length: Option<&str>,
    now_ms: i64,
) -> Result<(i64, i64), String> {
    let end_ms = match end.map(str::trim) {
        None | Some("now") => now_ms,
        Some(text) => parse_instant(text).map_err(|e| format!("--end {e}"))?,
    };
    let start_ms = match (start, length) {
        (Some(start), _) => parse_instant(start).map_err(|e| format!("--start {e}"))?,
        (None, Some(length)) => {
            let length = humantime::parse_duration(length.trim()).map_err(|_| {
                format!("--window \"{length}\" is not a duration such as 5m or 90s")
            })?;
            end_ms.saturating_sub(length.as_millis().min(i64::MAX as u128) as i64)
        }
        (None, None) => return Err("give --window 5m, or --start and --end".into()),
    };
    if end_ms < EARLIEST_MS {
        return Err(format!(
            "--end {} is {}, before 2000: no monitoring data is that old; give RFC 3339 (2026-11-21T10:05:00Z), epoch seconds or epoch milliseconds, or leave --end out for now",
            end.unwrap_or_default().trim(),
            rfc3339(end_ms)
        ));
    }
    if end_ms <= start_ms {
        return Err(format!(
            "the window is empty: --end ({}) must be after --start ({})",
            rfc3339(end_ms),
            rfc3339(start_ms)
        ));
    }
    if start_ms < EARLIEST_MS {
        return Err(format!(
            "the window starts at {}, before 2000: no monitoring data is that old; give a --start, or a --window shorter than the time since 2000",
            rfc3339(start_ms)
        ));
    }
    Ok((start_ms, end_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_255_500_000;

    #[test]
    fn instants_in_rfc_3339_epoch_seconds_or_epoch_milliseconds() {
        let cases = [
            ("2026-11-21T10:00:00Z", 1_795_255_200_000),
            ("2026-11-21T11:00:00+01:00", 1_795_255_200_000),
            ("2026-11-21 10:00:00", 1_795_255_200_000),
            ("1795255200", 1_795_255_200_000),
            ("1795255200000", 1_795_255_200_000),
            ("0", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_instant(text), Ok(ms), "{text}");
        }
        assert_eq!(
            parse_instant("yesterday").unwrap_err(),
            "\"yesterday\" is not a time: use RFC 3339 (2026-11-21T10:00:00Z), epoch seconds (1795255200) or epoch milliseconds (1795255200000)"
        );
    }

    #[test]
    fn epoch_seconds_make_the_window_they_mean() {
        assert_eq!(
            window(Some("1795255200"), Some("1795255500"), None, NOW),
            Ok((1_795_255_200_000, 1_795_255_500_000))
        );
        assert_eq!(
            window(None, None, Some("5m"), NOW),
            Ok((NOW - 300_000, NOW))
        );
    }

    #[test]
    fn a_window_in_1970_or_an_empty_one_is_refused_with_the_reason() {
        let e = window(None, Some("0"), Some("5m"), NOW).unwrap_err();
        assert_eq!(
            e,
            "--end 0 is 1970-01-01T00:00:00Z, before 2000: no monitoring data is that old; give RFC 3339 (2026-11-21T10:05:00Z), epoch seconds or epoch milliseconds, or leave --end out for now"
        );
        let e = window(Some("1795255500"), Some("1795255200"), None, NOW).unwrap_err();
        assert_eq!(
            e,
            "the window is empty: --end (2026-11-21T10:00:00Z) must be after --start (2026-11-21T10:05:00Z)"
        );
        let e = window(None, None, Some("0s"), NOW).unwrap_err();
        assert!(e.starts_with("the window is empty"), "{e}");
        let e = window(None, None, Some("100y"), NOW).unwrap_err();
        assert!(e.contains("before 2000"), "{e}");
        let e = window(Some("soon"), Some("now"), None, NOW).unwrap_err();
        assert!(e.starts_with("--start \"soon\" is not a time"), "{e}");
        let e = window(None, None, Some("5 minutes please"), NOW).unwrap_err();
        assert_eq!(
            e,
            "--window \"5 minutes please\" is not a duration such as 5m or 90s"
        );
    }
}
