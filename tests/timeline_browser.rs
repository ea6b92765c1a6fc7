//! The demo's event timeline in a real browser: the demo runs against a private SecantusDB,
//! its HTML page is loaded in headless Chromium (Debian's `chromium`, which `scripts/test`
//! installs), and
//!
//! - a screenshot of the page with its `<script>` elements removed decodes as a non-blank PNG
//!   showing the lanes' colours (the page needs no JavaScript to draw; its one script only
//!   checks the drawing);
//! - the DOM Chromium dumps has a non-empty SVG with exactly one lane per connection the run
//!   created (the `ConnectionCreated` count of the recording), and the page's own check
//!   reports the same count;
//! - the browser logs no console message and no uncaught error (a control page with an error
//!   proves the log is read).
//!
//! Without Chromium the test fails, with a message saying how to install it: it never skips.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mongopool::timeline::{parse_jsonl, RecordedEvent};
use support::server::TestServer;

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;

/// The Chromium binary: `MONGOPOOL_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    let name = std::env::var_os("MONGOPOOL_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let found = Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        found,
        "headless Chromium is missing ({} does not run{}): install Debian's package with \
         `apt-get install chromium` (scripts/test does when run as root), or point \
         MONGOPOOL_CHROMIUM at a Chromium binary",
        PathBuf::from(&name).display(),
        if ci { "; CI=true, so this cannot be skipped" } else { "" }
    );
    PathBuf::from(name)
}

/// Runs headless Chromium on `page` with the flags for a quiet, sandbox-free, offline run and
/// a private profile in `profile`, plus `extra`.
fn run_chromium(profile: &Path, page: &Path, extra: &[String]) -> Output {
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The page's console messages and uncaught errors, as Chromium logs them with
/// `--enable-logging=stderr`.
fn console_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect()
}

/// The demo example as `cargo build --examples` leaves it next to this test's binary.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    let path = dir.join("examples").join("demo");
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --examples` first (scripts/test does)",
        path.display()
    );
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mongopool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `html` without its `<script>...</script>` elements.
fn without_scripts(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</script>").expect("every script is closed");
        rest = &rest[start + end + "</script>".len()..];
    }
    out.push_str(rest);
    assert!(out.contains("<svg") && !out.contains("<script"));
    out
}

/// Pixel counts of a decoded RGB(A) screenshot.
struct Screenshot {
    width: u32,
    height: u32,
    non_white: usize,
    /// Pixels of the in-use and pending lane colours (`.seg-in-use`, `.seg-pending`).
    in_use: usize,
    pending: usize,
}

fn decode(path: &Path) -> Screenshot {
    let file = std::fs::File::open(path).expect("the screenshot exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
    let info = reader.next_frame(&mut buf).expect("the PNG decodes");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let mut shot = Screenshot {
        width: info.width,
        height: info.height,
        non_white: 0,
        in_use: 0,
        pending: 0,
    };
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let rgb = (px[0], px[1], px[2]);
        if rgb != (255, 255, 255) {
            shot.non_white += 1;
        }
        if rgb == (0x33, 0x7a, 0xb7) {
            shot.in_use += 1;
        }
        if rgb == (0xf0, 0xad, 0x4e) {
            shot.pending += 1;
        }
    }
    shot
}

#[test]
fn the_demo_timeline_renders_in_headless_chromium() {
    chromium(); // fail first, and clearly, without a browser
    let dir = temp_dir("browser-test");
    let server = TestServer::start();
    let demo = Command::new(demo_binary())
        .arg(server.uri())
        .arg(&dir)
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "the demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let page = dir.canonicalize().unwrap().join("timeline.html");
    assert!(
        stdout.contains(&page.display().to_string()),
        "the demo names its page:\n{stdout}"
    );

    let records = parse_jsonl(std::fs::read(dir.join("timeline.jsonl")).unwrap().as_slice()).unwrap();
    let created = records
        .iter()
        .filter(|r| matches!(r.event, RecordedEvent::ConnectionCreated { .. }))
        .count();
    // minPoolSize 2 up to maxPoolSize 8, all replaced after the clear.
    assert!(created >= 10, "{created} connections created");

    // The screenshot, of a copy without scripts: the drawing is plain SVG. (Chromium's
    // `scriptEnabled=false` setting stops headless screenshots altogether.)
    let no_script = dir.join("timeline-no-script.html");
    std::fs::write(&no_script, without_scripts(&std::fs::read_to_string(&page).unwrap())).unwrap();
    let png_path = dir.join("timeline.png");
    let shot = run_chromium(
        &dir.join("profile-shot"),
        &no_script,
        &[format!("--screenshot={}", png_path.display())],
    );
    assert_eq!(console_lines(&shot), Vec::<String>::new());
    let shot = decode(&png_path);
    assert_eq!((shot.width, shot.height), (WIDTH, HEIGHT));
    let pixels = (WIDTH * HEIGHT) as usize;
    assert!(
        shot.non_white > pixels / 20,
        "nearly blank: {} of {pixels} pixels not white",
        shot.non_white
    );
    // Eight connections in use for seconds fill a good part of their lanes; every
    // connection after the clear spends 300 ms pending.
    assert!(shot.in_use > 20_000, "{} in-use pixels", shot.in_use);
    assert!(shot.pending > 500, "{} pending pixels", shot.pending);

    // The DOM after the page's scripts ran.
    let dump = run_chromium(&dir.join("profile-dom"), &page, &["--dump-dom".into()]);
    assert_eq!(console_lines(&dump), Vec::<String>::new(), "the page logged messages");
    let dom = String::from_utf8_lossy(&dump.stdout);
    let svg_start = dom.find("<svg").expect("an <svg> in the DOM");
    let svg_end = dom.find("</svg>").expect("a closed <svg>");
    let svg = &dom[svg_start..svg_end];
    assert!(svg.contains("id=\"timeline\""), "{}", &svg[..svg.len().min(300)]);
    assert_eq!(svg.matches("<g class=\"lane\"").count(), created, "lanes in the DOM");
    assert!(svg.matches("class=\"segment").count() >= created, "segments drawn");
    assert!(
        dom.contains(&format!("data-timeline-lanes=\"{created}\"")) && dom.contains("data-timeline-check=\"ok\""),
        "the page's own check: {}",
        dom.lines().find(|l| l.contains("<body")).unwrap_or("no <body>")
    );
    println!(
        "timeline in Chromium: {created} connections created, {created} lanes; screenshot {WIDTH}x{HEIGHT}, \
         {} non-white, {} in-use, {} pending pixels",
        shot.non_white, shot.in_use, shot.pending
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The console check above can fail: a page with an uncaught error is caught by it.
#[test]
fn a_page_with_a_script_error_is_caught() {
    chromium();
    let dir = temp_dir("browser-control");
    let page = dir.join("error.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let out = run_chromium(&dir.join("profile"), &page, &["--dump-dom".into()]);
    let lines = console_lines(&out);
    assert!(
        lines.iter().any(|l| l.contains("Uncaught ReferenceError")),
        "the error went unseen: {lines:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
