//! Renders a timeline file (JSON lines from `mongopool::timeline::TimelineRecorder`) as a
//! self-contained HTML page.
//!
//! `mongopool-timeline INPUT.jsonl [OUTPUT.html]` (default output: the input with `.html`).
//! Prints the output's path; opens nothing. Exits with 1 and a line-numbered message on a bad
//! input file, 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: mongopool-timeline INPUT.jsonl [OUTPUT.html]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (input, output) = match args.as_slice() {
        [input] => (PathBuf::from(input), PathBuf::from(input).with_extension("html")),
        [input, output] => (PathBuf::from(input), PathBuf::from(output)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if input == output {
        eprintln!(
            "mongopool-timeline: the output would overwrite the input {}",
            input.display()
        );
        return ExitCode::from(2);
    }
    let title = format!("mongopool timeline: {}", input.display());
    let html = match mongopool::timeline::render_file(&input, &title) {
        Ok(html) => html,
        Err(e) => {
            eprintln!("mongopool-timeline: {}: {e}", input.display());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = std::fs::write(&output, html) {
        eprintln!("mongopool-timeline: cannot write {}: {e}", output.display());
        return ExitCode::from(1);
    }
    println!("{}", output.display());
    ExitCode::SUCCESS
}
