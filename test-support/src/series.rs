//! The numbered events of the tests' workers: event `n` of worker `id`
//! carries the message `w{id} e{n}` (the test worker, the tests' own
//! layers, the frames written by hand), whatever template surrounds it.

use std::collections::HashMap;

/// The `(id, n)` of the first `w{id} e{n}` in `line`: a `w` at the start
/// or after a character that is not a letter or digit (so `w1 e1` is not
/// read inside `w11 e1` or `xw1 e1`), digits, ` e`, digits.
fn numbers(line: &str) -> Option<(u64, u64)> {
    let bytes = line.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    (0..bytes.len()).find_map(|at| {
        if bytes[at] != b'w' || (at > 0 && bytes[at - 1].is_ascii_alphanumeric()) {
            return None;
        }
        let id_len = digits(at + 1);
        let e_at = at + 1 + id_len;
        if id_len == 0 || !line[e_at..].starts_with(" e") {
            return None;
        }
        let n_len = digits(e_at + 2);
        if n_len == 0 {
            return None;
        }
        let id = line[at + 1..e_at].parse().ok()?;
        let n = line[e_at + 2..e_at + 2 + n_len].parse().ok()?;
        Some((id, n))
    })
}

/// The event numbers of each worker id in `lines`, in line order (lines
/// without a `w{id} e{n}` are skipped).
pub fn series(lines: &[String]) -> HashMap<u64, Vec<u64>> {
    let mut map: HashMap<u64, Vec<u64>> = HashMap::new();
    for (id, n) in lines.iter().filter_map(|l| numbers(l)) {
        map.entry(id).or_default().push(n);
    }
    map
}

/// Where [`assert_series`] finds a worker's event numbers: the lines
/// themselves, or what [`series`] made of them (parsed once for many
/// workers).
pub trait Events {
    /// The event numbers of worker `id`, in order.
    fn events_of(&self, id: u64) -> Vec<u64>;
}

impl Events for HashMap<u64, Vec<u64>> {
    fn events_of(&self, id: u64) -> Vec<u64> {
        self.get(&id).cloned().unwrap_or_default()
    }
}

impl Events for [String] {
    fn events_of(&self, id: u64) -> Vec<u64> {
        self.iter()
            .filter_map(|l| numbers(l))
            .filter_map(|(w, n)| (w == id).then_some(n))
            .collect()
    }
}

impl Events for Vec<String> {
    fn events_of(&self, id: u64) -> Vec<u64> {
        self.as_slice().events_of(id)
    }
}

/// Asserts that worker `id` has the events 1..=`n`, each exactly once and
/// in order; the panic says how many there are, how many are missing and
/// where the first one out of place is (and all of them, if few).
pub fn assert_series<E: Events + ?Sized>(events: &E, id: u64, n: u64) {
    let got = events.events_of(id);
    let want: Vec<u64> = (1..=n).collect();
    if got != want {
        let missing = want.iter().filter(|e| !got.contains(e)).count();
        let first_wrong = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let all = if got.len() <= 40 {
            format!(": {got:?}")
        } else {
            String::new()
        };
        panic!(
            "worker {id}: {} events of 1..={n}, {missing} missing, the first out of \
             place at index {first_wrong}{all}",
            got.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn finds_the_numbers_whatever_the_template_around_them() {
        assert_eq!(numbers("worker-1 4242 INFO w1 e5 n=5"), Some((1, 5)));
        assert_eq!(numbers("w1[101] INFO w1 e5"), Some((1, 5)));
        assert_eq!(numbers("w1 w1 e7"), Some((1, 7)));
        assert_eq!(numbers("INFO|bad203|w7 e1"), Some((7, 1)));
        assert_eq!(numbers("w11 e3"), Some((11, 3)));
        assert_eq!(numbers("xw1 e1"), None);
        assert_eq!(
            numbers("worker-7 1 WARN worker-7[1] dropped 8 events"),
            None
        );
        assert_eq!(numbers("w1 e"), None);
    }

    #[test]
    fn a_series_is_checked_from_lines_or_from_the_map() {
        let lines = owned(&["a w1 e1", "b w2 e1", "a w1 e2", "a w11 e1"]);
        assert_series(&lines, 1, 2);
        assert_series(&series(&lines), 2, 1);
        assert_series(&lines, 11, 1);
        let gap = std::panic::catch_unwind(|| assert_series(&lines, 1, 3));
        assert!(gap.is_err(), "e3 is missing");
    }
}
