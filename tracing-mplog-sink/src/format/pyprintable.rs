//! Which characters CPython's `repr()` keeps as they are: those for which
//! `str.isprintable()` is true, from the generated `table` module.

mod table;

use table::NOT_PRINTABLE;

/// Whether CPython's `str.isprintable()` is true for `c` (so `repr()` keeps
/// it unescaped).
pub(crate) fn is_printable(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x80 {
        return (0x20..0x7F).contains(&c);
    }
    NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

#[cfg(test)]
mod tests {
    use super::is_printable;

    #[test]
    fn as_cpython() {
        for c in ['a', ' ', '~', 'é', '€', '𝄞', '中'] {
            assert!(is_printable(c), "{c:?}");
        }
        for c in [
            '\n',
            '\x7f',
            '\u{80}',
            '\u{a0}',
            '\u{ad}',
            '\u{2028}',
            '\u{378}',
            '\u{e000}',
            '\u{10ffff}',
        ] {
            assert!(!is_printable(c), "{c:?}");
        }
    }
}
