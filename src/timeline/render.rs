//! Draws a [`Timeline`] as one self-contained HTML page with an inline SVG: no external
//! scripts, styles or fonts, so it opens from a file anywhere.
//!
//! Layout, top to bottom: marker labels, one lane per connection, a time axis, check-outs in
//! progress, check-out waits, a second time axis, the legend. Pool markers (created, ready,
//! cleared, closed) are vertical lines through all of it. The output's size is bounded by the
//! number of lanes times the plot's width, however long the recording: each plot column shows
//! the state a connection spent most of that column's time in, and the charts show each
//! column's maximum.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::{Lane, MarkerKind, SegmentState, Timeline};

const WIDTH: f64 = 1360.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 50.0;
/// Plot columns: one per SVG unit of the plot's width.
const COLUMNS: usize = (WIDTH - LEFT - RIGHT) as usize;
const PLOT_WIDTH: f64 = COLUMNS as f64;
const MARKER_ROWS: usize = 3;
const MARKER_ROW_HEIGHT: f64 = 13.0;
const LANE_PITCH: f64 = 16.0;
const LANE_HEIGHT: f64 = 11.0;
const AXIS_HEIGHT: f64 = 26.0;
const CHART_HEIGHT: f64 = 70.0;
const CHART_GAP: f64 = 30.0;
const LEGEND_HEIGHT: f64 = 44.0;

const STATES: [SegmentState; 3] = [SegmentState::Pending, SegmentState::Available, SegmentState::InUse];

/// Renders `timeline` as an HTML page titled `title`.
///
/// The page's own script checks the drawing when it loads and records the result on `<body>`:
/// `data-timeline-check="ok"` and `data-timeline-lanes="N"`, or `data-timeline-check="error:
/// ..."`, so that a headless browser's DOM dump proves the page rendered.
///
/// ```
/// use std::time::Duration;
/// use mongopool::timeline::{render_html, Record, RecordedEvent, Timeline};
///
/// let rec = |us, event| Record { at: Duration::from_micros(us), address: "db:27017".into(), event };
/// let timeline = Timeline::build(&[
///     rec(0, RecordedEvent::PoolReady),
///     rec(5, RecordedEvent::ConnectionCreated { connection_id: 1 }),
///     rec(900, RecordedEvent::PoolCleared { interrupt_in_use_connections: false, service_id: None }),
/// ]);
/// let html = render_html(&timeline, "my <run>");
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("<title>my &lt;run&gt;</title>"));
/// assert_eq!(html.matches("<g class=\"lane\"").count(), 1);
/// assert!(html.contains("class=\"marker marker-cleared\""));
/// ```
pub fn render_html(timeline: &Timeline, title: &str) -> String {
    let mut svg = String::new();
    Svg::new(timeline).draw(&mut svg);
    let mut html = String::with_capacity(svg.len() + 4096);
    let failed = timeline.waits.iter().filter(|w| w.failed.is_some()).count();
    let clears = timeline
        .markers
        .iter()
        .filter(|m| matches!(m.kind, MarkerKind::Cleared { .. }))
        .count();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <script>window.__timelineErrors=[];window.addEventListener('error',function(e){{window.__timelineErrors.push(String(e.message));}});</script>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"summary\">{servers}: {created} connections created, {checkouts} check-outs ({failed} failed), \
         {clears} clears over {span}; longest check-out wait {max_wait}, at most {in_progress} check-outs in progress.</p>\n\
         <p class=\"note\">Each lane is one connection; each pixel column shows the state it spent most of that time in. \
         Hover over a segment or marker for details.</p>\n",
        title = esc(title),
        STYLE = STYLE,
        servers = esc(&timeline.addresses.join(", ")),
        created = timeline.connections_created,
        checkouts = timeline.waits.len(),
        span = fmt_duration(timeline.end),
        max_wait = fmt_duration(timeline.max_wait()),
        in_progress = timeline.max_check_outs_in_progress(),
    );
    html.push_str(&svg);
    html.push_str(CHECK_SCRIPT);
    html.push_str("</body>\n</html>\n");
    html
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:8px;color:#222;background:#fff}\
h1{font-size:18px;margin:4px 0}p{margin:4px 0;font-size:13px}.note{color:#666}\
svg text{font-size:11px;fill:#222}\
.lane-bg{fill:#f4f4f4}.lane-label{font-family:monospace}\
.seg-pending{fill:#f0ad4e}.seg-available{fill:#5cb85c}.seg-in-use{fill:#337ab7}\
.close-mark{fill:#222}.close-reason{font-size:9px}\
.close-stale .close-reason{fill:#7b3fa0}.close-idle .close-reason{fill:#777}\
.close-error .close-reason{fill:#c9302c}.close-poolClosed .close-reason{fill:#000}\
.marker line{stroke-width:1.5}.marker text{font-size:10px}\
.marker-created line{stroke:#999;stroke-dasharray:2 3}.marker-ready line{stroke:#2e8b57}\
.marker-cleared line{stroke:#d9534f;stroke-dasharray:6 3}.marker-closed line{stroke:#000}\
.marker-created text{fill:#777}.marker-ready text{fill:#2e8b57}.marker-cleared text{fill:#d9534f}\
.axis line{stroke:#888}.axis .grid{stroke:#e4e4e4}.axis text{fill:#555;font-size:10px}\
.chart-frame{fill:none;stroke:#ccc}.chart-title{font-weight:bold}\
.queue-depth{fill:rgba(240,173,78,0.35);stroke:#c77c0e;stroke-width:1}\
.wait-bar{fill:#337ab7}.wait-failed{fill:#d9534f}\
.legend text{font-size:11px}\
";

/// Runs when the page loads: checks the SVG and records the verdict on `<body>`.
const CHECK_SCRIPT: &str = "<script>\n(function(){\n\
  var body=document.body;\n\
  try{\n\
    var svg=document.getElementById('timeline');\n\
    if(!svg) throw new Error('no timeline SVG');\n\
    var box=svg.getBoundingClientRect();\n\
    if(!(box.width>0&&box.height>0)) throw new Error('the SVG has an empty box');\n\
    var lanes=svg.querySelectorAll('g.lane');\n\
    var expected=parseInt(svg.getAttribute('data-lanes'),10);\n\
    if(lanes.length!==expected) throw new Error(lanes.length+' lanes drawn, '+expected+' expected');\n\
    for(var i=0;i<lanes.length;i++){\n\
      var segs=lanes[i].querySelectorAll('rect.segment'), last=-1;\n\
      for(var j=0;j<segs.length;j++){\n\
        var x=parseFloat(segs[j].getAttribute('x'));\n\
        if(!(x>=last)) throw new Error('lane '+i+': segments out of order');\n\
        last=x+parseFloat(segs[j].getAttribute('width'));\n\
      }\n\
    }\n\
    if(window.__timelineErrors.length) throw new Error(window.__timelineErrors.join('; '));\n\
    body.setAttribute('data-timeline-lanes',String(lanes.length));\n\
    body.setAttribute('data-timeline-check','ok');\n\
  }catch(e){body.setAttribute('data-timeline-check','error: '+e.message);}\n\
})();\n</script>\n";

/// Escapes text for HTML and SVG content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A duration for people: `850 µs`, `12.5 ms`, `3.20 s`.
fn fmt_duration(d: Duration) -> String {
    let us = micros(d);
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// A tick label for time `us` on an axis whose ticks are `step_us` apart.
fn fmt_tick(us: f64, step_us: f64) -> String {
    if step_us >= 1e6 {
        format!("{:.0} s", us / 1e6)
    } else if step_us >= 1e5 {
        format!("{:.1} s", us / 1e6)
    } else if step_us >= 1e3 {
        format!("{:.0} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// The smallest of 1, 2, 5 × 10^k microseconds that cuts `span_us` into at most 10 steps.
fn tick_step(span_us: f64) -> f64 {
    let mut base = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            let step = base * m;
            if span_us / step <= 10.0 {
                return step;
            }
        }
        base *= 10.0;
    }
}

/// The drawing, with the scale shared by all its parts.
struct Svg<'a> {
    t: &'a Timeline,
    /// The recording's length in microseconds, at least 1.
    span_us: f64,
    lanes_top: f64,
    height: f64,
}

impl<'a> Svg<'a> {
    fn new(t: &'a Timeline) -> Self {
        let lanes_top = MARKER_ROWS as f64 * MARKER_ROW_HEIGHT + 8.0;
        let lanes_height = LANE_PITCH * t.lanes.len().max(1) as f64;
        let height =
            lanes_top + lanes_height + AXIS_HEIGHT + 2.0 * (CHART_HEIGHT + CHART_GAP) + AXIS_HEIGHT + LEGEND_HEIGHT;
        Svg {
            t,
            span_us: micros(t.end).max(1.0),
            lanes_top,
            height,
        }
    }

    fn x(&self, at: Duration) -> f64 {
        LEFT + PLOT_WIDTH * (micros(at) / self.span_us).min(1.0)
    }

    fn column_start_us(&self, c: usize) -> f64 {
        self.span_us * c as f64 / PLOT_WIDTH
    }

    /// The plot column holding time `at`.
    fn column(&self, at: Duration) -> usize {
        let c = (micros(at) / self.span_us * PLOT_WIDTH).floor();
        (c.max(0.0) as usize).min(COLUMNS - 1)
    }

    fn lanes_bottom(&self) -> f64 {
        self.lanes_top + LANE_PITCH * self.t.lanes.len().max(1) as f64
    }

    fn draw(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {h:.0}\" width=\"{WIDTH}\" \
             height=\"{h:.0}\" data-lanes=\"{lanes}\" data-connections-created=\"{created}\" data-end-us=\"{end:.0}\" role=\"img\">",
            h = self.height,
            lanes = self.t.lanes.len(),
            created = self.t.connections_created,
            end = micros(self.t.end),
        );
        let _ = writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{:.0}\" fill=\"#fff\"/>",
            self.height
        );
        let lanes_bottom = self.lanes_bottom();
        self.lanes(out);
        if self.t.lanes.is_empty() {
            let _ = writeln!(
                out,
                "<text x=\"{LEFT}\" y=\"{:.1}\">no connections were created</text>",
                self.lanes_top + 11.0
            );
        }
        self.axis(out, lanes_bottom + 2.0, self.lanes_top, lanes_bottom);
        let queue_top = lanes_bottom + AXIS_HEIGHT + CHART_GAP;
        self.queue_chart(out, queue_top);
        let waits_top = queue_top + CHART_HEIGHT + CHART_GAP;
        self.wait_chart(out, waits_top);
        let bottom_axis = waits_top + CHART_HEIGHT + 2.0;
        self.axis(out, bottom_axis, queue_top, waits_top + CHART_HEIGHT);
        self.markers(out, bottom_axis);
        self.legend(out, bottom_axis + AXIS_HEIGHT + 8.0);
        out.push_str("</svg>\n");
    }

    fn lanes(&self, out: &mut String) {
        let several_servers = self.t.addresses.len() > 1;
        for (i, lane) in self.t.lanes.iter().enumerate() {
            let y = self.lanes_top + LANE_PITCH * i as f64;
            let label = if several_servers {
                format!("{} #{}", lane.address, lane.connection_id)
            } else {
                format!("#{}", lane.connection_id)
            };
            let _ = writeln!(
                out,
                "<g class=\"lane\" data-connection-id=\"{id}\" data-address=\"{addr}\">\n\
                 <rect class=\"lane-bg\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{PLOT_WIDTH}\" height=\"{LANE_HEIGHT}\"/>\n\
                 <text class=\"lane-label\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
                id = lane.connection_id,
                addr = esc(&lane.address),
                lx = LEFT - 6.0,
                ty = y + LANE_HEIGHT - 1.5,
                label = esc(&label),
            );
            for run in self.runs(lane) {
                let x = LEFT + run.first as f64;
                let width = (run.last - run.first + 1) as f64;
                let (start, end) = (self.column_start_us(run.first), self.column_start_us(run.last + 1));
                let state = run.state.as_str();
                let _ = writeln!(
                    out,
                    "<rect class=\"segment seg-{state}\" data-state=\"{state}\" x=\"{x:.1}\" y=\"{y:.1}\" \
                     width=\"{width:.1}\" height=\"{LANE_HEIGHT}\" data-start-us=\"{start:.0}\" data-end-us=\"{end:.0}\">\
                     <title>#{id} {label}: {from} to {to}</title></rect>",
                    id = lane.connection_id,
                    label = state.replace('-', " "),
                    from = fmt_duration(Duration::from_secs_f64(start / 1e6)),
                    to = fmt_duration(Duration::from_secs_f64(end / 1e6)),
                );
            }
            if let Some(closed) = &lane.closed {
                let x = self.x(closed.at);
                let reason = closed.reason.as_str();
                let (tx, anchor) = if x > LEFT + PLOT_WIDTH - 50.0 {
                    (x - 3.0, "end")
                } else {
                    (x + 4.0, "start")
                };
                let detail = closed.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<g class=\"close close-{reason}\" data-reason=\"{reason}\" data-at-us=\"{at:.0}\">\
                     <rect class=\"close-mark\" x=\"{mx:.1}\" y=\"{my:.1}\" width=\"2\" height=\"{mh}\"/>\
                     <text class=\"close-reason\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"{anchor}\">{reason}</text>\
                     <title>#{id} closed ({reason}) at {when}{detail}</title></g>",
                    at = micros(closed.at),
                    mx = x - 1.0,
                    my = y - 1.0,
                    mh = LANE_HEIGHT + 2.0,
                    ty = y + LANE_HEIGHT - 2.0,
                    id = lane.connection_id,
                    when = fmt_duration(closed.at),
                    detail = esc(&detail),
                );
            }
            out.push_str("</g>\n");
        }
    }

    /// The lane's columns, each given the state it held longest there, merged into runs.
    fn runs(&self, lane: &Lane) -> Vec<Run> {
        let mut time = vec![[0.0f64; 3]; COLUMNS];
        for seg in &lane.segments {
            let s = micros(seg.start) / self.span_us * PLOT_WIDTH;
            let e = micros(seg.end) / self.span_us * PLOT_WIDTH;
            if e <= s {
                continue;
            }
            let k = STATES.iter().position(|&st| st == seg.state).unwrap_or(0);
            let first = (s.floor().max(0.0) as usize).min(COLUMNS - 1);
            let last = ((e.ceil() as usize).saturating_sub(1)).clamp(first, COLUMNS - 1);
            for (c, column) in time.iter_mut().enumerate().take(last + 1).skip(first) {
                let overlap = e.min(c as f64 + 1.0) - s.max(c as f64);
                if overlap > 0.0 {
                    column[k] += overlap;
                }
            }
        }
        let mut runs: Vec<Run> = Vec::new();
        for (c, column) in time.iter().enumerate() {
            let Some((k, _)) = column
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0.0)
                .max_by(|a, b| a.1.total_cmp(b.1))
            else {
                continue;
            };
            let state = STATES[k];
            match runs.last_mut() {
                Some(run) if run.state == state && run.last + 1 == c => run.last = c,
                _ => runs.push(Run {
                    state,
                    first: c,
                    last: c,
                }),
            }
        }
        runs
    }

    /// A time axis with tick labels at `y`, and grid lines from `grid_top` to `grid_bottom`.
    fn axis(&self, out: &mut String, y: f64, grid_top: f64, grid_bottom: f64) {
        let step = tick_step(self.span_us);
        let _ = writeln!(
            out,
            "<g class=\"axis\"><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/>",
            x2 = LEFT + PLOT_WIDTH
        );
        let mut i = 0u32;
        loop {
            let us = step * f64::from(i);
            if us > self.span_us * 1.0001 {
                break;
            }
            let x = LEFT + PLOT_WIDTH * us / self.span_us;
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{grid_top:.1}\" x2=\"{x:.1}\" y2=\"{grid_bottom:.1}\"/>\
                 <line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{t:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{label}</text>",
                t = y + 4.0,
                ly = y + 15.0,
                label = fmt_tick(us, step),
            );
            i += 1;
        }
        out.push_str("</g>\n");
    }

    /// Vertical lines through everything, labels staggered over `MARKER_ROWS` rows on top.
    fn markers(&self, out: &mut String, bottom: f64) {
        let mut row_end = [f64::MIN; MARKER_ROWS];
        for m in &self.t.markers {
            let x = self.x(m.at);
            let mut label = m.kind.as_str().to_owned();
            if let MarkerKind::Cleared {
                interrupt_in_use_connections: true,
            } = m.kind
            {
                label.push_str(" (interrupt)");
            }
            if self.t.addresses.len() > 1 {
                label = format!("{label} {}", m.address);
            }
            let width = label.chars().count() as f64 * 5.5;
            let row = (0..MARKER_ROWS).find(|&r| row_end[r] < x).unwrap_or(MARKER_ROWS - 1);
            row_end[row] = x + width + 4.0;
            let ty = MARKER_ROW_HEIGHT * (row as f64 + 1.0);
            let _ = writeln!(
                out,
                "<g class=\"marker marker-{kind}\" data-at-us=\"{at:.0}\"><line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" \
                 y2=\"{bottom:.1}\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\">{label}</text>\
                 <title>pool {kind} at {when}: {addr}</title></g>",
                kind = m.kind.as_str(),
                at = micros(m.at),
                y1 = ty + 2.0,
                tx = x + 2.0,
                label = esc(&label),
                when = fmt_duration(m.at),
                addr = esc(&m.address),
            );
        }
    }

    fn chart_frame(&self, out: &mut String, top: f64, title: &str, max_label: &str) {
        let _ = writeln!(
            out,
            "<text class=\"chart-title\" x=\"{LEFT}\" y=\"{ty:.1}\">{title}</text>\
             <rect class=\"chart-frame\" x=\"{LEFT}\" y=\"{top:.1}\" width=\"{PLOT_WIDTH}\" height=\"{CHART_HEIGHT}\"/>\
             <text x=\"{lx}\" y=\"{my:.1}\" text-anchor=\"end\">{max}</text>\
             <text x=\"{lx}\" y=\"{zy:.1}\" text-anchor=\"end\">0</text>",
            ty = top - 6.0,
            lx = LEFT - 6.0,
            my = top + 9.0,
            zy = top + CHART_HEIGHT,
            max = esc(max_label),
        );
    }

    /// Check-outs in progress as a step area, each column at its maximum.
    fn queue_chart(&self, out: &mut String, top: f64) {
        let max = self.t.max_check_outs_in_progress().max(1);
        self.chart_frame(
            out,
            top,
            "check-outs in progress (threads waiting for a connection)",
            &max.to_string(),
        );
        let mut column_max = vec![None::<u32>; COLUMNS];
        let mut current = 0u32;
        let mut points = self.t.check_outs_in_progress.iter().peekable();
        for (c, slot) in column_max.iter_mut().enumerate() {
            let end_us = self.column_start_us(c + 1);
            let mut m = current;
            while let Some(&&(at, n)) = points.peek() {
                if micros(at) >= end_us && c + 1 < COLUMNS {
                    break;
                }
                m = m.max(n);
                current = n;
                points.next();
            }
            *slot = Some(m);
        }
        let base = top + CHART_HEIGHT;
        let y = |n: u32| base - CHART_HEIGHT * f64::from(n) / f64::from(max);
        let mut d = format!("M{LEFT} {base:.1}");
        for (c, m) in column_max.iter().enumerate() {
            let n = m.unwrap_or(0);
            let _ = write!(d, " V{:.1} H{:.1}", y(n), LEFT + c as f64 + 1.0);
        }
        let _ = write!(d, " V{base:.1} Z");
        let _ = writeln!(out, "<path class=\"queue-depth\" d=\"{d}\"/>");
    }

    /// Each column's longest successful check-out wait as a bar; failed check-outs as red
    /// ticks along the top.
    fn wait_chart(&self, out: &mut String, top: f64) {
        let max_us = micros(self.t.max_wait()).max(1.0);
        self.chart_frame(
            out,
            top,
            "check-out wait (longest per column; red: failed check-outs)",
            &fmt_duration(self.t.max_wait()),
        );
        let mut longest = vec![0.0f64; COLUMNS];
        let mut failed = vec![0u32; COLUMNS];
        for w in &self.t.waits {
            let c = self.column(w.at);
            if w.failed.is_some() {
                failed[c] += 1;
            } else {
                longest[c] = longest[c].max(micros(w.wait));
            }
        }
        let base = top + CHART_HEIGHT;
        out.push_str("<g class=\"waits\">");
        for (c, &us) in longest.iter().enumerate() {
            if us > 0.0 {
                let h = (CHART_HEIGHT * us / max_us).max(0.5);
                let _ = write!(
                    out,
                    "<rect class=\"wait-bar\" x=\"{x:.0}\" y=\"{y:.1}\" width=\"1\" height=\"{h:.1}\"/>",
                    x = LEFT + c as f64,
                    y = base - h,
                );
            }
        }
        for (c, &n) in failed.iter().enumerate() {
            if n > 0 {
                let _ = write!(
                    out,
                    "<rect class=\"wait-failed\" x=\"{x:.0}\" y=\"{top:.1}\" width=\"1.5\" height=\"8\"><title>{n} failed</title></rect>",
                    x = LEFT + c as f64,
                );
            }
        }
        out.push_str("</g>\n");
    }

    fn legend(&self, out: &mut String, top: f64) {
        let items: [(&str, &str); 10] = [
            ("seg-pending", "pending (connecting, handshake)"),
            ("seg-available", "available"),
            ("seg-in-use", "in use"),
            ("close-mark", "closed (reason after it)"),
            ("wait-bar", "check-out wait"),
            ("wait-failed", "failed check-out"),
            ("marker-ready", "pool ready"),
            ("marker-cleared", "pool cleared"),
            ("marker-closed", "pool closed"),
            ("queue-depth", "check-outs in progress"),
        ];
        out.push_str("<g class=\"legend\">");
        for (i, (class, text)) in items.iter().enumerate() {
            let x = LEFT + (i % 5) as f64 * 230.0;
            let y = top + (i / 5) as f64 * 18.0;
            if let Some(kind) = class.strip_prefix("marker-") {
                let _ = write!(
                    out,
                    "<g class=\"marker marker-{kind}\"><line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y2:.1}\"/></g>",
                    x1 = x + 6.0,
                    y2 = y + 11.0,
                );
            } else {
                let _ = write!(
                    out,
                    "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"11\"/>"
                );
            }
            let _ = write!(
                out,
                "<text x=\"{tx:.1}\" y=\"{ty:.1}\">{text}</text>",
                tx = x + 17.0,
                ty = y + 10.0,
            );
        }
        out.push_str("</g>\n");
    }
}

/// Consecutive columns of one lane drawn in one state.
struct Run {
    state: SegmentState,
    first: usize,
    last: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn tick_steps_are_round_and_few() {
        assert_eq!(tick_step(1.0), 1.0);
        assert_eq!(tick_step(95.0), 10.0);
        assert_eq!(tick_step(8_000_000.0), 1_000_000.0);
        assert_eq!(tick_step(12_000_000.0), 2_000_000.0);
        assert_eq!(fmt_tick(2_500_000.0, 500_000.0), "2.5 s");
        assert_eq!(fmt_tick(40_000.0, 20_000.0), "40 ms");
        assert_eq!(fmt_duration(Duration::from_micros(12_345)), "12.3 ms");
    }
}
