//! Checks a rendered timeline page against the records it was drawn from, by parsing its SVG
//! as XML: one lane per connection in creation order, segments ordered in time, a close mark
//! per closed connection with its reason, a marker per pool event.

use std::collections::BTreeMap;

use mongopool::timeline::{Record, RecordedEvent};

/// What the SVG holds, for further assertions.
#[derive(Debug, Default)]
pub struct Drawn {
    pub lanes: usize,
    /// Segment rectangles by state (`pending`, `available`, `in-use`).
    pub segments: BTreeMap<String, usize>,
    /// Close marks by reason.
    pub closes: BTreeMap<String, usize>,
    /// Markers by kind.
    pub markers: BTreeMap<String, usize>,
    pub failed_check_out_ticks: usize,
    pub wait_bars: usize,
}

fn class_has(node: &roxmltree::Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

fn num(node: &roxmltree::Node, attr: &str) -> f64 {
    node.attribute(attr)
        .unwrap_or_else(|| panic!("{attr} missing on {node:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{attr} of {node:?}: {e}"))
}

/// Parses the page's SVG and checks it against `records`; panics with a message on a mismatch.
pub fn check(html: &str, records: &[Record]) -> Drawn {
    let start = html.find("<svg").expect("no <svg> in the page");
    let end = html.find("</svg>").expect("no </svg> in the page") + "</svg>".len();
    let doc = roxmltree::Document::parse(&html[start..end]).expect("the SVG is well-formed XML");
    let svg = doc.root_element();
    assert_eq!(svg.tag_name().name(), "svg");
    assert_eq!(svg.attribute("id"), Some("timeline"));

    let created: Vec<(String, u64)> = records
        .iter()
        .filter_map(|r| match r.event {
            RecordedEvent::ConnectionCreated { connection_id } => Some((r.address.clone(), connection_id)),
            _ => None,
        })
        .collect();
    let closed: BTreeMap<(String, u64), &'static str> = records
        .iter()
        .filter_map(|r| match r.event {
            RecordedEvent::ConnectionClosed {
                connection_id, reason, ..
            } => Some(((r.address.clone(), connection_id), reason.as_str())),
            _ => None,
        })
        .collect();

    let mut drawn = Drawn::default();
    let lanes: Vec<_> = svg.descendants().filter(|n| class_has(n, "lane")).collect();
    drawn.lanes = lanes.len();
    assert_eq!(num(&svg, "data-lanes") as usize, lanes.len());
    let lane_ids: Vec<(String, u64)> = lanes
        .iter()
        .map(|l| {
            (
                l.attribute("data-address").expect("lane address").to_owned(),
                num(l, "data-connection-id") as u64,
            )
        })
        .collect();
    assert_eq!(lane_ids, created, "one lane per ConnectionCreated, in creation order");

    for (lane, id) in lanes.iter().zip(&lane_ids) {
        let mut last_end = f64::MIN;
        let mut last_end_us = f64::MIN;
        for seg in lane.descendants().filter(|n| class_has(n, "segment")) {
            let (x, width) = (num(&seg, "x"), num(&seg, "width"));
            let (start_us, end_us) = (num(&seg, "data-start-us"), num(&seg, "data-end-us"));
            assert!(width > 0.0 && end_us > start_us, "empty segment in lane {id:?}");
            assert!(
                x >= last_end - 1e-6,
                "lane {id:?}: segment at {x} starts before {last_end}"
            );
            assert!(start_us >= last_end_us, "lane {id:?}: segment times out of order");
            last_end = x + width;
            last_end_us = end_us;
            let state = seg.attribute("data-state").expect("segment state").to_owned();
            assert!(class_has(&seg, &format!("seg-{state}")));
            *drawn.segments.entry(state).or_default() += 1;
        }
        let closes: Vec<_> = lane.descendants().filter(|n| class_has(n, "close")).collect();
        match closed.get(id) {
            Some(reason) => {
                assert_eq!(closes.len(), 1, "lane {id:?}: one close mark");
                assert_eq!(closes[0].attribute("data-reason"), Some(*reason));
                *drawn.closes.entry(reason.to_string()).or_default() += 1;
            }
            None => assert!(closes.is_empty(), "lane {id:?} was not closed"),
        }
    }

    let expected_markers = records
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                RecordedEvent::PoolCreated { .. }
                    | RecordedEvent::PoolReady
                    | RecordedEvent::PoolCleared { .. }
                    | RecordedEvent::PoolClosed
            )
        })
        .count();
    // Legend swatches reuse the marker classes but carry no time.
    let markers: Vec<_> = svg
        .descendants()
        .filter(|n| class_has(n, "marker") && n.attribute("data-at-us").is_some())
        .collect();
    assert_eq!(markers.len(), expected_markers, "one marker per pool event");
    for m in &markers {
        let kind = m
            .attribute("class")
            .and_then(|c| c.split(' ').find_map(|c| c.strip_prefix("marker-")))
            .expect("marker kind");
        *drawn.markers.entry(kind.to_owned()).or_default() += 1;
    }
    // Counted inside the chart: the legend has a swatch of each.
    let waits = svg
        .descendants()
        .find(|n| class_has(n, "waits"))
        .expect("the check-out wait chart is missing");
    drawn.failed_check_out_ticks = waits.descendants().filter(|n| class_has(n, "wait-failed")).count();
    drawn.wait_bars = waits.descendants().filter(|n| class_has(n, "wait-bar")).count();
    assert!(
        svg.descendants().any(|n| class_has(&n, "queue-depth")),
        "the check-outs-in-progress chart is missing"
    );
    assert!(
        svg.descendants().filter(|n| class_has(n, "tick")).count() >= 2,
        "the time axis has no ticks"
    );
    drawn
}
