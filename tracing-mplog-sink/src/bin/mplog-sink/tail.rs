//! `mplog-sink tail`: follows the running sink's `GET /tail` and prints
//! each record as it comes, until interrupted or the sink stops. Exit
//! status 1 when no sink answers (or it has no tail: an older sink).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use crate::error::CliError;
use crate::status::{SinkAddr, connect};

/// The flags of `mplog-sink tail`.
#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    sink: SinkAddr,

    /// Only records at this level or more severe (trace, debug, info, warn, error)
    #[arg(long, value_name = "LEVEL", value_parser = crate::values::parse_level)]
    level: Option<tracing::Level>,

    /// Only records of this process name; repeat for several
    #[arg(long, value_name = "NAME")]
    process: Vec<String>,

    /// Only records whose target starts with this
    #[arg(long, value_name = "PREFIX")]
    target: Option<String>,

    /// First print the last N such records the sink keeps (at most 1000)
    #[arg(long, value_name = "N", default_value_t = 0)]
    lines: usize,

    /// JSON lines (as `format = "json"` writes them) rather than the files' lines
    #[arg(long)]
    json: bool,
}

impl TailArgs {
    /// The query of `GET /tail`.
    fn query(&self) -> String {
        let mut q = vec![format!("lines={}", self.lines)];
        if let Some(level) = &self.level {
            q.push(format!("level={}", level.as_str().to_ascii_lowercase()));
        }
        q.extend(
            self.process
                .iter()
                .map(|p| format!("process={}", encode(p))),
        );
        if let Some(target) = &self.target {
            q.push(format!("target={}", encode(target)));
        }
        if self.json {
            q.push("json=1".into());
        }
        q.join("&")
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn run(args: TailArgs) -> ExitCode {
    match tail(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mplog-sink tail: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}

fn tail(args: TailArgs) -> Result<(), CliError> {
    let query = args.query();
    let addr = args.sink.resolve()?;
    let no_sink = |reason: String| CliError::NoSink {
        addr: addr.clone(),
        reason,
    };
    let mut stream = connect(&addr).map_err(no_sink)?;
    write!(
        stream,
        "GET /tail?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| no_sink(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader).map_err(no_sink)?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let mut body = String::new();
        let _ = reader.take(4096).read_to_string(&mut body);
        return Err(no_sink(format!(
            "answered {status} to /tail: {}",
            body.trim()
        )));
    }
    // Lines come when records do: no timeout from here on.
    let _ = reader.get_ref().set_read_timeout(None);
    eprintln!("mplog-sink tail: following {addr}");
    follow(&mut reader).map_err(no_sink)?;
    eprintln!("mplog-sink tail: the sink stopped");
    Ok(())
}

/// The status line and headers.
fn read_head(reader: &mut impl BufRead) -> Result<String, String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("closed before answering".into()),
            Ok(_) if line == "\r\n" => return Ok(head),
            Ok(_) => head.push_str(&line),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Copies the chunked body to stdout as it comes, until its last chunk.
fn follow(reader: &mut impl BufRead) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    let mut chunk = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).map_err(|e| e.to_string())? == 0 {
            return Err("the connection ended mid-answer".into());
        }
        let n = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| format!("not a chunk size: {size:?}"))?;
        if n == 0 {
            return Ok(());
        }
        chunk.resize(n + 2, 0);
        reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        // A reader that went away (`| head`) ends the tail quietly.
        if stdout
            .write_all(&chunk[..n])
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(());
        }
    }
}
