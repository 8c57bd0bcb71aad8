//! The `forward` key of the config file → [`Destination`]s: a URL string,
//! a list of URLs, or `[[forward]]` tables with per-destination options
//! (`docs/forwarding.md`). Every option is checked when the file is read,
//! naming the destination and the key.

use std::time::Duration;

use tracing_mplog_sink::forward::Destination;

use crate::values;

/// The keys of a `[[forward]]` table.
pub(crate) const FORWARD_KEYS: &[&str] = &[
    "url",
    "level",
    "queue",
    "tls-ca",
    "tls-cert",
    "tls-key",
    "facility",
    "gzip",
    "batch",
    "batch-timeout",
    "max-datagram",
];

/// `--forward URL`.
pub(crate) fn parse_url(text: &str) -> Result<Destination, String> {
    let dest = Destination::parse(text).map_err(|e| e.to_string())?;
    dest.validate().map_err(|e| e.to_string())?;
    Ok(dest)
}

/// Every destination of the `forward` key.
pub(crate) fn parse(value: &toml::Value) -> Result<Vec<Destination>, String> {
    let items: Vec<&toml::Value> = match value {
        toml::Value::String(_) | toml::Value::Table(_) => vec![value],
        toml::Value::Array(items) if !items.is_empty() => items.iter().collect(),
        other => {
            return Err(format!(
                "expected a URL, a non-empty list of URLs or [[forward]] tables, found {}",
                other.type_str()
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            toml::Value::String(url) => parse_url(url),
            toml::Value::Table(table) => {
                table_destination(table).map_err(|e| format!("destination #{}: {e}", i + 1))
            }
            other => Err(format!(
                "destination #{}: expected a URL or a table, found {}",
                i + 1,
                other.type_str()
            )),
        })
        .collect()
}

fn table_destination(table: &toml::Table) -> Result<Destination, String> {
    let url = match table.get("url") {
        Some(toml::Value::String(url)) => url,
        Some(other) => {
            return Err(format!(
                "key `url`: expected a string, found {}",
                other.type_str()
            ));
        }
        None => return Err("key `url` is required".into()),
    };
    let mut dest = Destination::parse(url).map_err(|e| e.to_string())?;
    for (raw, value) in table {
        let key = raw.replace('_', "-");
        let bad = |reason: String| format!("`{url}`: key `{raw}`: {reason}");
        dest = match key.as_str() {
            "url" => dest,
            "level" => dest.level(
                str_value(value)
                    .and_then(values::parse_level)
                    .map_err(bad)?,
            ),
            "queue" => dest.queue(count(value, 1).map_err(bad)?),
            "tls-ca" => dest.tls_ca(str_value(value).map_err(bad)?),
            "tls-cert" => dest.tls_cert(str_value(value).map_err(bad)?),
            "tls-key" => dest.tls_key(str_value(value).map_err(bad)?),
            "facility" => {
                let n = count(value, 0).map_err(bad)?;
                dest.facility(
                    u8::try_from(n)
                        .ok()
                        .filter(|f| *f <= 23)
                        .ok_or_else(|| bad("expected 0 to 23".into()))?,
                )
            }
            "gzip" => dest.gzip(value.as_bool().ok_or_else(|| {
                bad(format!(
                    "expected true or false, found {}",
                    value.type_str()
                ))
            })?),
            "batch" => dest.batch_size(count(value, 1).map_err(bad)?),
            "batch-timeout" => dest.batch_timeout(duration(value).map_err(bad)?),
            "max-datagram" => dest.max_datagram(count(value, 480).map_err(bad)?),
            _ => {
                return Err(bad(format!(
                    "unknown key (expected one of {})",
                    FORWARD_KEYS.join(", ")
                )));
            }
        };
    }
    dest.validate().map_err(|e| e.to_string())?;
    Ok(dest)
}

fn str_value(value: &toml::Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {}", value.type_str()))
}

/// A whole number of at least `min`.
fn count(value: &toml::Value, min: usize) -> Result<usize, String> {
    match value {
        toml::Value::Integer(n) => usize::try_from(*n)
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| format!("expected a whole number ≥ {min}")),
        other => Err(format!(
            "expected a whole number ≥ {min}, found {}",
            other.type_str()
        )),
    }
}

/// Seconds, or a string such as `"200ms"`, `"5s"`.
fn duration(value: &toml::Value) -> Result<Duration, String> {
    match value {
        toml::Value::Integer(n) => values::parse_duration(&n.to_string()),
        toml::Value::String(s) => match s.strip_suffix("ms") {
            Some(ms) => ms
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("bad duration `{s}`")),
            None => values::parse_duration(s),
        },
        other => Err(format!(
            "expected seconds or a string such as \"200ms\", found {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_toml(text: &str) -> Result<Vec<Destination>, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        parse(table.get("forward").ok_or("no forward key")?)
    }

    #[test]
    fn a_url_a_list_or_tables() {
        let one = parse_toml(r#"forward = "syslog+tcp://127.0.0.1:514""#).expect("one");
        assert_eq!(one[0].url(), "syslog+tcp://127.0.0.1:514");
        let two = parse_toml(r#"forward = ["syslog+udp://h", "otlp+grpc://h"]"#).expect("list");
        assert_eq!(two.len(), 2);
        let tables = parse_toml(
            r#"
            [[forward]]
            url = "syslog+tls://relay:6514"
            level = "warn"
            queue = 10
            tls-ca = "/etc/ca.pem"
            facility = 16
            [[forward]]
            url = "otlp+http://collector:4318"
            gzip = true
            batch = 100
            batch_timeout = "50ms"
            [[forward]]
            url = "otlp+grpcs://collector"
            tls-ca = "/etc/ca.pem"
            tls-cert = "/etc/client.crt"
            tls_key = "/etc/client.key"
            "#,
        )
        .expect("tables");
        assert_eq!(tables[0].options().level, tracing::Level::WARN);
        assert_eq!(tables[0].options().queue, 10);
        assert_eq!(tables[0].options().facility, 16);
        assert_eq!(
            tables[0].options().tls_ca.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert!(tables[1].options().gzip);
        assert_eq!(tables[1].options().batch_size, 100);
        assert_eq!(tables[1].options().batch_timeout, Duration::from_millis(50));
        let mtls = tables[2].options();
        assert_eq!(tables[2].port(), 4317);
        assert_eq!(
            (mtls.tls_cert.as_deref(), mtls.tls_key.as_deref()),
            (
                Some(std::path::Path::new("/etc/client.crt")),
                Some(std::path::Path::new("/etc/client.key"))
            )
        );
    }

    #[test]
    fn mistakes_name_the_destination_and_key() {
        for (text, want) in [
            (r#"forward = "kafka://h""#, "unknown scheme `kafka`"),
            (r#"forward = 3"#, "expected a URL"),
            (
                "[[forward]]\nurl = \"syslog+tcp://h\"\nqueue = 0",
                "destination #1: `syslog+tcp://h`: key `queue`: expected a whole number ≥ 1",
            ),
            ("[[forward]]\nlevel = \"info\"", "key `url` is required"),
            (
                "[[forward]]\nurl = \"syslog+tcp://h\"\ncolour = 1",
                "key `colour`: unknown key",
            ),
            (
                "[[forward]]\nurl = \"otlp+http://h\"\ntls-ca = \"x\"",
                "`tls-ca` applies to TLS destinations only",
            ),
            (
                "[[forward]]\nurl = \"otlp+https://h\"\ntls-cert = \"c.pem\"",
                "`tls-cert` needs `tls-key`",
            ),
            (
                "[[forward]]\nurl = \"otlp+grpcs://h\"\ntls-key = 3",
                "key `tls-key`: expected a string",
            ),
            (
                "[[forward]]\nurl = \"syslog+tcp://h\"\nfacility = 24",
                "expected 0 to 23",
            ),
        ] {
            let e = parse_toml(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
