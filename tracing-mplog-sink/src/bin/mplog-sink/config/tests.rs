//! Tests of the config file reader and of merging it with the flags.
use super::*;
use clap::Parser;

fn flags(args: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("mplog-sink").chain(args.iter().copied()))
        .expect("valid command line")
}

fn file(text: &str) -> Result<Args, CliError> {
    parse_file(Path::new("test.toml"), text)
}

fn resolve_with(args: &[&str], text: &str) -> Result<Config, CliError> {
    let file = file(text)?;
    resolve(flags(args), Some((PathBuf::from("test.toml"), file)))
}

const FULL: &str = r#"
    listen = "unix:/tmp/from-file.sock"
    logdir = "file-logs"
    name = "fromfile"
    consolidate = true
    process-key = ["pid", "host"]
    file-prefix = "pre-"
    file_suffix = "-suf"
    file-mode = "truncate"
    when = "midnight"
    interval = 2
    at-time = "03:30"
    utc = true
    max-bytes = "10M"
    backup_count = 5
    max-age = "7d"
    compress = true
    datefmt = "%H:%M:%S"
    level = "info"
    echo = true
    [format]
    info = "I %(message)s"
    default = "D %(message)s"
"#;

#[test]
fn defaults_when_nothing_but_listen_is_given() {
    let c = resolve(flags(&["--listen", "unix:/tmp/a.sock"]), None).expect("valid");
    assert_eq!(c.listen, vec![Endpoint::Unix("/tmp/a.sock".into())]);
    assert_eq!(c.logdir, PathBuf::from("logs"));
    assert_eq!(c.name, "mplog");
    assert!(!c.consolidate && !c.utc && !c.compress && !c.echo);
    assert_eq!(c.process_key, vec![ProcessKey::Name]);
    assert_eq!((c.file_prefix.as_str(), c.file_suffix.as_str()), ("", ""));
    assert_eq!(c.file_mode, FileMode::Append);
    assert_eq!((c.when, c.interval, c.at_time), (When::Never, 1, None));
    assert_eq!((c.max_bytes, c.backup_count, c.max_age), (0, 0, None));
    assert_eq!((c.datefmt.clone(), c.formats.len()), (None, 0));
    assert_eq!(c.level, Level::TRACE);
    assert_eq!(c.setting("max_bytes").source, Source::Default);
    assert_eq!(c.setting("max_bytes").to_string(), "--max-bytes (default)");
    assert_eq!(c.setting("drain_timeout").source, Source::Internal);
    assert_eq!(
        c.setting("drain_timeout").to_string(),
        "sink setting `drain-timeout`"
    );
}

#[test]
fn the_file_sets_every_key_in_either_spelling() {
    let c = resolve_with(&[], FULL).expect("valid file");
    assert_eq!(c.listen, vec![Endpoint::Unix("/tmp/from-file.sock".into())]);
    assert_eq!(c.logdir, PathBuf::from("file-logs"));
    assert_eq!(c.name, "fromfile");
    assert!(c.consolidate && c.utc && c.compress && c.echo);
    assert_eq!(c.process_key, vec![ProcessKey::Pid, ProcessKey::Host]);
    assert_eq!(
        (c.file_prefix.as_str(), c.file_suffix.as_str()),
        ("pre-", "-suf")
    );
    assert_eq!(c.file_mode, FileMode::Truncate);
    assert_eq!((c.when, c.interval), (When::Midnight, 2));
    assert_eq!(c.at_time, Time::from_hms(3, 30, 0).ok());
    assert_eq!((c.max_bytes, c.backup_count), (10 << 20, 5));
    assert_eq!(c.max_age, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(c.datefmt.as_deref(), Some("%H:%M:%S"));
    assert_eq!(
        c.formats,
        vec![
            (FormatLevel::Info, "I %(message)s".to_owned()),
            (FormatLevel::Default, "D %(message)s".to_owned())
        ]
    );
    assert_eq!(c.level, Level::INFO);
    assert_eq!(
        c.setting("backup_count").source,
        Source::File(PathBuf::from("test.toml"))
    );

    // The other spelling of every two-word key.
    let underscored = FULL
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((k, v)) => format!("{} = {v}", k.replace('-', "_")),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(underscored.contains("max_bytes") && underscored.contains("file_prefix"));
    let d = resolve_with(&[], &underscored).expect("underscored keys");
    assert_eq!(
        (d.max_bytes, d.backup_count, d.max_age),
        (c.max_bytes, c.backup_count, c.max_age)
    );
    assert_eq!(
        (d.file_prefix, d.file_suffix, d.file_mode),
        (c.file_prefix, c.file_suffix, c.file_mode)
    );
    assert_eq!((d.at_time, d.process_key), (c.at_time, c.process_key));
}

#[test]
fn flags_override_the_file() {
    let c = resolve_with(
        &[
            "--listen=unix:/tmp/flag.sock",
            "--max-bytes=1KiB",
            "--consolidate=false",
            "--process-key=none",
            "--format=info=F %(message)s",
            "--level=error",
        ],
        FULL,
    )
    .expect("valid");
    assert_eq!(c.listen, vec![Endpoint::Unix("/tmp/flag.sock".into())]);
    assert_eq!(c.max_bytes, 1024);
    assert!(!c.consolidate);
    assert_eq!(c.process_key, vec![]);
    assert_eq!(c.level, Level::ERROR);
    // --format replaced the file's `info`, kept its `default`.
    assert_eq!(
        c.formats,
        vec![
            (FormatLevel::Info, "F %(message)s".to_owned()),
            (FormatLevel::Default, "D %(message)s".to_owned())
        ]
    );
    // Untouched keys still come from the file.
    assert_eq!(c.name, "fromfile");
    assert_eq!(c.backup_count, 5);
    assert_eq!(c.setting("max-bytes").source, Source::Flag);
    assert_eq!(c.setting("max_bytes").to_string(), "--max-bytes");
    assert_eq!(
        c.setting("backup_count").to_string(),
        "config file test.toml: key `backup-count`"
    );
    assert_eq!(c.setting("format.info").source, Source::Flag);
    assert_eq!(
        c.setting("format.default").source,
        Source::File(PathBuf::from("test.toml"))
    );
}

#[test]
fn a_single_process_key_string_works() {
    let c = resolve_with(&[], "listen = \"unix:/x\"\nprocess-key = \"target\"").expect("valid");
    assert_eq!(c.process_key, vec![ProcessKey::Target]);
    let c = resolve_with(&[], "listen = \"unix:/x\"\nprocess_key = \"none\"").expect("valid");
    assert_eq!(c.process_key, vec![]);
    let c = resolve_with(
        &[],
        "listen = \"unix:/x\"\nat-time = 04:15:00\nwhen = \"W0\"",
    )
    .expect("TOML local time");
    assert_eq!(c.at_time, Time::from_hms(4, 15, 0).ok());
}

#[test]
fn unknown_key_is_named() {
    let err = file("listen = \"unix:/x\"\nmax-byte = 3").expect_err("unknown key");
    assert!(
        matches!(&err, CliError::UnknownKey { key, .. } if key == "max-byte"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("max-byte") && text.contains("test.toml"),
        "{text}"
    );
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn both_spellings_of_one_key_are_refused() {
    let err = file("max-bytes = 1\nmax_bytes = 2").expect_err("duplicate");
    let text = err.to_string();
    assert!(
        text.contains("max-bytes") && text.contains("max_bytes"),
        "{text}"
    );
}

#[test]
fn bad_values_name_the_key_and_the_value() {
    for (text, key, value) in [
        ("max-bytes = \"10X\"", "max-bytes", "\"10X\""),
        ("max_bytes = -5", "max_bytes", "-5"),
        ("max-age = \"3y\"", "max-age", "\"3y\""),
        ("max-age = 0", "max-age", "0"),
        ("interval = 0", "interval", "0"),
        ("at-time = \"25:00\"", "at-time", "\"25:00\""),
        (
            "process-key = [\"pid\", \"none\"]",
            "process-key",
            "an array",
        ),
        ("process-key = \"thread\"", "process-key", "\"thread\""),
        ("consolidate = \"yes\"", "consolidate", "\"yes\""),
        ("level = \"loud\"", "level", "\"loud\""),
        ("when = \"W9\"", "when", "\"W9\""),
        ("file-mode = 1", "file-mode", "1"),
        ("listen = \"tcp://h\"", "listen", "\"tcp://h\""),
        ("format = \"x\"", "format", "\"x\""),
        ("format = { fatal = \"x\" }", "format", "a table"),
        ("backup-count = 1.5", "backup-count", "1.5"),
    ] {
        let err = file(text).expect_err(text);
        match &err {
            CliError::BadValue {
                key: k, value: v, ..
            } => {
                assert_eq!((k.as_str(), v.as_str()), (key, value), "{text}");
            }
            other => panic!("{text}: expected BadValue, got {other:?}"),
        }
        let shown = err.to_string();
        assert!(shown.contains(key) && shown.contains(value), "{shown}");
    }
}

#[test]
fn syntax_errors_name_the_file() {
    let err = file("listen = ").expect_err("syntax");
    assert!(matches!(err, CliError::ConfigSyntax { .. }), "{err:?}");
    assert!(err.to_string().contains("test.toml"));
}

#[test]
fn listen_is_required_somewhere() {
    let err = resolve(flags(&[]), None).expect_err("no listen");
    assert!(matches!(err, CliError::MissingListen));
    assert!(err.to_string().contains("--listen"));
    assert_eq!(err.exit_code(), 2);
    resolve_with(&[], "listen = \"unix:/x\"").expect("listen from the file");
}

#[test]
fn bad_templates_are_named_after_their_source() {
    let err = resolve_with(&["--format", "warn=%(nope)s"], "listen = \"unix:/x\"")
        .expect_err("unknown placeholder");
    let text = err.to_string();
    assert!(
        text.starts_with("--format warn:") && text.contains("nope"),
        "{text}"
    );

    let err = resolve_with(&[], "listen = \"unix:/x\"\n[format]\nerror = \"%(nope)s\"")
        .expect_err("unknown placeholder");
    let text = err.to_string();
    assert!(
        text.contains("key `format.error`") && text.contains("nope"),
        "{text}"
    );

    let err = resolve_with(&["--datefmt", "%Q"], "listen = \"unix:/x\"").expect_err("datefmt");
    assert!(err.to_string().starts_with("--datefmt:"), "{err}");

    let err = resolve_with(
        &["--format", "info=a", "--format", "INFO=b"],
        "listen = \"unix:/x\"",
    )
    .expect_err("twice");
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn listen_takes_a_string_or_a_list_and_network_keys_parse() {
    let path = Path::new("net.toml");
    let args = parse_file(
        path,
        "listen = [\"unix:/tmp/a.sock\", \"tls://127.0.0.1:7000\"]\n\
         tls-cert = \"c.pem\"\ntls_key = \"k.pem\"\ntls-client-ca = \"ca.pem\"\n\
         token-file = \"t\"\ninsecure = true\nmax-connections = 16\n",
    )
    .expect("valid file");
    let c = resolve(Args::default(), Some((path.to_owned(), args))).expect("resolves");
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.listen[1].to_string(), "tls://127.0.0.1:7000");
    assert_eq!(c.tls_key, Some(PathBuf::from("k.pem")));
    assert_eq!((c.insecure, c.max_connections), (true, 16));
    for bad in [
        "listen = []",
        "listen = 3",
        "max-connections = 0",
        "listen = \"tcp://x\"",
    ] {
        let err = parse_file(path, bad).expect_err(bad);
        assert!(err.to_string().contains("net.toml"), "{bad}: {err}");
    }
}

#[test]
fn python_listen_comes_from_flags_or_the_file() {
    let c = resolve_with(
        &[],
        "listen = \"unix:/x\"\npython-listen = [\"unix:/tmp/py.sock\", \"tcp://127.0.0.1:9020\"]",
    )
    .expect("valid");
    assert_eq!(c.python_listen.len(), 2);
    assert_eq!(c.python_listen[1].to_string(), "tcp://127.0.0.1:9020");
    let c = resolve_with(
        &["--python-listen", "unix:/tmp/flag.sock"],
        "listen = \"unix:/x\"\npython_listen = \"unix:/tmp/file.sock\"",
    )
    .expect("valid");
    assert_eq!(
        c.python_listen,
        vec![Endpoint::Unix("/tmp/flag.sock".into())]
    );
    assert_eq!(
        c.setting("python_listen").to_string(),
        c.setting("python-listen").to_string()
    );
    let c = resolve_with(&[], "listen = \"unix:/x\"").expect("valid");
    assert!(c.python_listen.is_empty());
    let err = file("listen = \"unix:/x\"\npython-listen = 3").expect_err("not an endpoint");
    assert!(err.to_string().contains("python-listen"), "{err}");
}
