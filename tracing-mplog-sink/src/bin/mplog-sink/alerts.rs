//! The config file's `[[alert]]` tables → [`AlertRule`]s, checked whole:
//! a missing or unknown key, a bad duration, level, glob or regex stops
//! the sink with a message naming the rule and the key.

use std::path::{Path, PathBuf};

use tracing_mplog_sink::sink::{AlertOn, AlertRule};

use crate::error::CliError;
use crate::values;

/// The keys of an `[[alert]]` table.
pub(crate) const ALERT_KEYS: &[&str] = &[
    "name", "on", "process", "level", "count", "window", "after", "regex", "cooldown", "log",
    "command", "webhook",
];

/// Every rule of the `alert` key.
pub(crate) fn parse(path: &Path, value: &toml::Value) -> Result<Vec<AlertRule>, CliError> {
    let bad = |rule: String, key: &str, reason: String| CliError::Alert {
        path: path.to_owned(),
        rule,
        key: key.to_owned(),
        reason,
    };
    let Some(tables) = value.as_array() else {
        return Err(bad("?".into(), "alert", "expected [[alert]] tables".into()));
    };
    let mut rules = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let Some(table) = table.as_table() else {
            return Err(bad(
                format!("#{}", i + 1),
                "alert",
                "expected a table".into(),
            ));
        };
        let name = match table.get("name").map(toml::Value::as_str) {
            Some(Some(n)) => n.to_owned(),
            Some(None) => {
                return Err(bad(
                    format!("#{}", i + 1),
                    "name",
                    "expected a string".into(),
                ));
            }
            None => return Err(bad(format!("#{}", i + 1), "name", "required".into())),
        };
        let err = |key: &str, reason: String| bad(name.clone(), key, reason);
        let on = match table.get("on").map(toml::Value::as_str) {
            Some(Some(on)) => on.parse::<AlertOn>().map_err(|r| err("on", r))?,
            Some(None) => return Err(err("on", "expected a string".into())),
            None => return Err(err("on", "required".into())),
        };
        let mut rule = AlertRule::new(name.clone(), on);
        for (key, v) in table {
            let key = key.as_str();
            let text = || {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(key, "expected a string".into()))
            };
            let duration =
                || text().and_then(|t| values::parse_duration(&t).map_err(|r| err(key, r)));
            match key {
                "name" | "on" => {}
                "process" => rule.process = Some(text()?),
                "level" => {
                    rule.level = values::parse_level(&text()?).map_err(|r| err(key, r))?;
                }
                "count" => {
                    rule.count = v
                        .as_integer()
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|&n| n > 0)
                        .ok_or_else(|| err(key, "expected a whole number of at least 1".into()))?;
                }
                "window" => rule.window = duration()?,
                "after" => rule.after = duration()?,
                "cooldown" => rule.cooldown = duration()?,
                "regex" => rule.regex = Some(text()?),
                "log" => rule.log = Some(PathBuf::from(text()?)),
                "webhook" => rule.webhook = Some(text()?),
                "command" => {
                    rule.command = match v {
                        toml::Value::Array(items) => items
                            .iter()
                            .map(|s| s.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                            .filter(|c| !c.is_empty())
                            .ok_or_else(|| err(key, "expected a list of strings".into()))?,
                        _ => return Err(err(key, "expected a list of strings".into())),
                    };
                }
                other => {
                    return Err(err(
                        other,
                        format!("unknown key (keys are {})", ALERT_KEYS.join(", ")),
                    ));
                }
            }
        }
        rule.validate()
            .map_err(|e| bad(e.rule.clone(), e.key, e.reason.clone()))?;
        if rules.iter().any(|r: &AlertRule| r.name == rule.name) {
            return Err(err("name", "two rules have this name".into()));
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<AlertRule>, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        parse(Path::new("c.toml"), &table["alert"]).map_err(|e| e.to_string())
    }

    #[test]
    fn the_issue_example_parses() {
        let rules = parse_text(
            r#"
            [[alert]]
            name = "worker-crashed"
            on = "unclean-disconnect"
            process = "w*"
            log = "alerts.jsonl"
            command = ["/usr/local/bin/page", "--team", "infra"]
            webhook = "http://127.0.0.1:9000/hook"
            cooldown = "1m"

            [[alert]]
            name = "error-burst"
            on = "level"
            level = "error"
            count = 20
            window = "1m"
            "#,
        )
        .expect("valid");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].command.len(), 3);
        assert_eq!(rules[1].count, 20);
    }

    #[test]
    fn errors_name_the_rule_and_the_key() {
        let e = parse_text("[[alert]]\nname = \"x\"\non = \"nope\"\n").expect_err("an error");
        assert!(e.contains("alert `x`") && e.contains("`on`"), "{e}");
        let e = parse_text("[[alert]]\nname = \"y\"\non = \"match\"\nregex = \"(\"\n")
            .expect_err("an error");
        assert!(e.contains("alert `y`") && e.contains("`regex`"), "{e}");
        let e = parse_text("[[alert]]\nname = \"z\"\non = \"silence\"\nafter = \"soon\"\n")
            .expect_err("an error");
        assert!(e.contains("alert `z`") && e.contains("`after`"), "{e}");
        let e = parse_text("[[alert]]\nname = \"g\"\non = \"level\"\nprocess = \"a[\"\n")
            .expect_err("an error");
        assert!(e.contains("`process`"), "{e}");
        let e = parse_text("[[alert]]\nname = \"k\"\non = \"level\"\ncolour = 1\n")
            .expect_err("an error");
        assert!(e.contains("`colour`") && e.contains("unknown key"), "{e}");
    }
}
