//! Which exposition format a `/metrics` client gets, and the classic text
//! format made from the OpenMetrics text that `prometheus-client` encodes.
//!
//! Prometheus asks for OpenMetrics in its `Accept` header and gets it,
//! declared as such. A client that asks for nothing (curl, `mplog-sink
//! status`) or for `text/plain` (older scrapers, `promtool check metrics`
//! fed by curl) gets the Prometheus text format 0.0.4, as the official Go
//! client serves it: no `# EOF`, no `# UNIT`, and a counter's `# HELP` and
//! `# TYPE` on its sample name (`x_total`), not on the family name.

/// A format `/metrics` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposition {
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
    /// The Prometheus text format 0.0.4.
    Text,
}

impl Exposition {
    /// The `Content-Type` of an answer in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Exposition::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format an `Accept` header prefers: OpenMetrics when it is
    /// accepted at least as much as the text format, the text format
    /// otherwise (also with no header, or one naming neither).
    pub(crate) fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Exposition::Text;
        };
        let (mut open, mut text) = (0.0_f32, 0.0_f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0_f32;
            let mut version = None;
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().trim_matches('"').to_owned()),
                    _ => {}
                }
            }
            match media.as_str() {
                // Only the OpenMetrics version this encoder writes.
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    open = open.max(q);
                }
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if open > 0.0 && open >= text {
            Exposition::OpenMetrics
        } else {
            Exposition::Text
        }
    }

    /// The body in this format, from `prometheus-client`'s OpenMetrics
    /// text.
    pub(crate) fn body(self, openmetrics: String) -> String {
        match self {
            Exposition::OpenMetrics => openmetrics,
            Exposition::Text => to_text(&openmetrics),
        }
    }
}

/// The text format 0.0.4 of an OpenMetrics text made of counters and
/// gauges (what the monitor registers).
fn to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // prometheus-client writes `# HELP` before `# TYPE`: the help line
    // waits for the type, which says whether the name takes `_total`.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, kind) = match kind {
                "counter" => (format!("{family}_total"), "counter"),
                "gauge" => (family.to_owned(), "gauge"),
                // Info and the rest have no text-format type of their own.
                "info" => (format!("{family}_info"), "gauge"),
                _ => (family.to_owned(), "untyped"),
            };
            // prometheus-client writes help texts as given: the monitor's
            // have neither `\\` nor a line break to escape.
            if let Some((_, text)) = help.take().filter(|(h, _)| *h == family) {
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_gets_openmetrics_and_plain_clients_the_text_format() {
        // What Prometheus 2.42 sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Exposition::negotiate(Some(prometheus)),
            Exposition::OpenMetrics
        );
        assert_eq!(Exposition::negotiate(None), Exposition::Text);
        assert_eq!(Exposition::negotiate(Some("*/*")), Exposition::Text);
        assert_eq!(
            Exposition::negotiate(Some("text/plain; version=0.0.4")),
            Exposition::Text
        );
        assert_eq!(
            Exposition::negotiate(Some("application/openmetrics-text")),
            Exposition::OpenMetrics
        );
        // Asked for less than the text format, or for a version not written.
        assert_eq!(
            Exposition::negotiate(Some("text/plain, application/openmetrics-text; q=0.5")),
            Exposition::Text
        );
        assert_eq!(
            Exposition::negotiate(Some("application/openmetrics-text; version=0.0.1")),
            Exposition::Text
        );
        assert_eq!(
            Exposition::negotiate(Some("application/openmetrics-text; q=0")),
            Exposition::Text
        );
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples_and_ends_without_eof() {
        let open = "# HELP mplog_events_received Events written, by level.\n\
                    # TYPE mplog_events_received counter\n\
                    mplog_events_received_total{level=\"info\"} 3\n\
                    # HELP mplog_open_files Open files.\n\
                    # TYPE mplog_open_files gauge\n\
                    # UNIT mplog_open_files files\n\
                    mplog_open_files 2\n\
                    # EOF\n";
        assert_eq!(
            to_text(open),
            "# HELP mplog_events_received_total Events written, by level.\n\
             # TYPE mplog_events_received_total counter\n\
             mplog_events_received_total{level=\"info\"} 3\n\
             # HELP mplog_open_files Open files.\n\
             # TYPE mplog_open_files gauge\n\
             mplog_open_files 2\n"
        );
    }
}
