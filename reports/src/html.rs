//! `report.html`: one self-contained file (inline CSS, inline SVG, no script, no network) with
//! the run's headline, a table of scenarios, and per scenario an SVG **timeline**: one lane
//! per endpoint with every request as a mark (coloured by answer, outlined when a fault was
//! injected), Retry-After windows and expected back-off windows shaded, fired events as
//! vertical lines, the app's driver commands on their own lane, and the requests a failing
//! rule cites ringed in red and linked to their evidence.

use crate::{label, reading_order, Outcome, Report, ScenarioReport};
use model::transcript::{TranscriptEntry, TranscriptEvent};
use model::verdict::{secs, Status};
use model::{Endpoint, JournalEntry};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

/// Each scenario's journal and transcript, for the timelines.
#[derive(Debug, Default)]
pub struct Journals {
    map: HashMap<String, (Vec<JournalEntry>, Vec<TranscriptEntry>)>,
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Journals {
    /// Reads `journal/<scenario>.jsonl` and `.transcript.jsonl` beside a report (missing files
    /// give empty timelines, not errors).
    pub fn from_dir(dir: &Path, r: &Report) -> Self {
        let mut j = Journals::default();
        for sc in &r.scenarios {
            let journal = read_jsonl(&dir.join(&sc.journal));
            let transcript = read_jsonl(
                &dir.join(sc.journal.trim_end_matches(".jsonl").to_string() + ".transcript.jsonl"),
            );
            j.insert(&sc.name, journal, transcript);
        }
        j
    }

    /// Adds a scenario's journal and transcript.
    pub fn insert(&mut self, scenario: &str, j: Vec<JournalEntry>, t: Vec<TranscriptEntry>) {
        self.map.insert(scenario.to_string(), (j, t));
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An id-safe form of a name.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS UTC` from Unix seconds (civil-from-days; no time zone data needed).
fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const CSS: &str = r#"
:root{--ok:#2e7d32;--warn:#b26a00;--bad:#c62828;--na:#757575;--ink:#1f2328;--muted:#59636e;--line:#d0d7de}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:0;padding:24px 32px;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}h3{font-size:14px;margin:14px 0 6px}
.muted{color:var(--muted)}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.badge{display:inline-block;min-width:46px;text-align:center;border-radius:4px;padding:1px 6px;font-weight:600;font-size:12px;color:#fff}
.pass{background:var(--ok)}.fail,.error{background:var(--bad)}.warn{background:var(--warn)}.not_applicable{background:var(--na)}
table{border-collapse:collapse;margin:12px 0}td,th{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
section.sc{border:1px solid var(--line);border-radius:6px;margin:16px 0;padding:0}
section.sc>details>summary{cursor:pointer;padding:10px 14px;list-style:none;display:flex;gap:10px;align-items:baseline}
section.sc .body{padding:0 14px 14px}
ul.ev{margin:4px 0 10px;padding-left:18px}ul.ev li{margin:1px 0}ul.ev li:target{background:#fff3cd;outline:2px solid var(--bad)}
.rule-fail{color:var(--bad);font-weight:600}.rule-pass{color:var(--ok)}.rule-na{color:var(--na)}
svg.tl{display:block;margin:8px 0;background:#fbfcfd;border:1px solid var(--line);border-radius:4px}
svg.tl text{font:11px system-ui,sans-serif;fill:var(--muted)}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:-1px;border-radius:2px}
pre{background:#f6f8fa;padding:8px;border-radius:4px;overflow:auto;font-size:12px}
"#;

fn status_colour(e: &JournalEntry) -> &'static str {
    match e.status {
        0 => "#424242",
        200..=399 => "#43a047",
        429 => "#8e24aa",
        400..=499 => "#f9a825",
        _ => "#e53935",
    }
}

fn lane_name(e: Endpoint) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{e:?}"))
}

fn retry_after_secs(e: &JournalEntry) -> Option<f64> {
    let v = e
        .response_header("retry-after")?
        .trim()
        .parse::<f64>()
        .ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// Plot geometry: microseconds to x.
struct Scale {
    t0: u64,
    t1: u64,
    x0: f64,
    width: f64,
}

impl Scale {
    fn x(&self, t: u64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        self.x0 + (t.saturating_sub(self.t0) as f64 / span) * self.width
    }
}

fn tick_step(span_s: f64) -> f64 {
    [
        0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
    .find(|s| span_s / s <= 12.0)
    .unwrap_or(1200.0)
}

/// The SVG timeline of one scenario.
pub fn timeline(
    sc: &ScenarioReport,
    journal: &[JournalEntry],
    transcript: &[TranscriptEntry],
) -> String {
    let client: Vec<&JournalEntry> = journal
        .iter()
        .filter(|e| e.endpoint.is_client_facing())
        .collect();
    let cited: BTreeSet<u64> = sc
        .rules
        .iter()
        .filter(|v| v.status == Status::Fail)
        .flat_map(|v| v.evidence.iter().filter_map(|e| e.seq))
        .collect();
    let mut lanes: Vec<Endpoint> = Endpoint::ALL
        .iter()
        .copied()
        .filter(|ep| client.iter().any(|e| e.endpoint == *ep))
        .collect();
    if lanes.is_empty() && transcript.is_empty() {
        return "<p class=\"muted\">No request reached the mock.</p>".to_string();
    }
    lanes.sort_by_key(|e| match e {
        Endpoint::Authorize => 0,
        Endpoint::Token => 1,
        Endpoint::Devicecode => 2,
        Endpoint::Graph => 3,
        Endpoint::Userinfo => 4,
        _ => 5,
    });
    let commands: Vec<(u64, u64, String, bool)> = transcript
        .iter()
        .filter_map(|t| match &t.event {
            TranscriptEvent::Command { id, op, .. } if op != "shutdown" => {
                let end = transcript.iter().find_map(|r| match &r.event {
                    TranscriptEvent::Result { id: rid, ok, .. } if rid == id => {
                        Some((r.at_us, *ok))
                    }
                    _ => None,
                });
                let (end, ok) = end.unwrap_or((t.at_us, false));
                Some((t.at_us, end, op.clone(), ok))
            }
            _ => None,
        })
        .collect();
    let fired: Vec<(u64, String)> = transcript
        .iter()
        .filter_map(|t| match &t.event {
            TranscriptEvent::Fired { name } => Some((t.at_us, name.clone())),
            _ => None,
        })
        .collect();
    let t0 = client
        .iter()
        .map(|e| e.arrived_us)
        .chain(transcript.first().map(|t| t.at_us))
        .min()
        .unwrap_or(0);
    let mut t1 = client
        .iter()
        .map(|e| e.finished_us.unwrap_or(e.arrived_us))
        .chain(transcript.last().map(|t| t.at_us))
        .max()
        .unwrap_or(t0 + 1_000_000)
        .max(t0 + 1_000_000);
    // Shaded windows may reach past the last request.
    for e in &client {
        if let Some(ra) = retry_after_secs(e) {
            t1 = t1.max(e.finished_us.unwrap_or(e.arrived_us) + (ra * 1e6) as u64);
        }
    }
    let label_w = 96.0;
    let width = 1080.0;
    let lane_h = 26.0;
    let top = 22.0;
    let mut rows: Vec<String> = lanes.iter().map(|e| lane_name(*e)).collect();
    if !commands.is_empty() {
        rows.push("app".into());
    }
    let height = top + lane_h * rows.len() as f64 + 22.0;
    let s = Scale {
        t0,
        t1,
        x0: label_w,
        width: width - label_w - 12.0,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"timeline of {}\">",
        esc(&sc.name)
    );
    // Lanes and axis.
    for (i, name) in rows.iter().enumerate() {
        let y = top + lane_h * i as f64;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{lane_h}\" fill=\"{}\"/><text x=\"6\" y=\"{}\">{}</text>",
            label_w,
            s.width,
            if i % 2 == 0 { "#ffffff" } else { "#f3f5f7" },
            y + lane_h / 2.0 + 4.0,
            esc(name)
        );
    }
    let span_s = (t1 - t0) as f64 / 1e6;
    let step = tick_step(span_s);
    let mut k = 0.0;
    while k <= span_s + 1e-9 {
        let x = s.x(t0 + (k * 1e6) as u64);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#e1e4e8\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}s</text>",
            top,
            height - 20.0,
            height - 6.0,
            if step < 1.0 { format!("{k:.1}") } else { format!("{k:.0}") }
        );
        k += step;
    }
    let lane_y = |ep: Endpoint| {
        lanes
            .iter()
            .position(|l| *l == ep)
            .map(|i| top + lane_h * i as f64)
    };
    // Shaded windows first, so marks sit on top.
    let mut streak: HashMap<Endpoint, u32> = HashMap::new();
    for e in &client {
        let Some(y) = lane_y(e.endpoint) else {
            continue;
        };
        let end = e.finished_us.unwrap_or(e.arrived_us);
        let failed = e.status >= 500 || e.status == 0;
        if e.status == 200 || (e.status > 0 && e.status < 500 && e.status != 429) {
            streak.remove(&e.endpoint);
        }
        if let Some(ra) = retry_after_secs(e) {
            let until = end + (ra * 1e6) as u64;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#ce93d8\" fill-opacity=\"0.35\"><title>Retry-After {ra} s: no request to {} before {}</title></rect>",
                s.x(end),
                y + 3.0,
                (s.x(until) - s.x(end)).max(1.0),
                lane_h - 6.0,
                lane_name(e.endpoint),
                secs(until - t0)
            );
        } else if failed {
            let n = streak.entry(e.endpoint).or_insert(0);
            *n += 1;
            let wait = (5u64 << (*n - 1).min(4)).min(60) * 1_000_000;
            let until = end + wait;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#90caf9\" fill-opacity=\"0.35\"><title>back-off: the next attempt should wait at least {} s (until {})</title></rect>",
                s.x(end),
                y + 3.0,
                (s.x(until) - s.x(end)).max(1.0),
                lane_h - 6.0,
                wait / 1_000_000,
                secs(until - t0)
            );
        }
    }
    for (at, name) in &fired {
        let x = s.x(*at);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#6a1b9a\" stroke-dasharray=\"4 3\"><title>event {} fired at {}</title></line><text x=\"{:.1}\" y=\"14\" fill=\"#6a1b9a\">⚡{}</text>",
            top,
            height - 20.0,
            esc(name),
            secs(at - t0),
            x + 2.0,
            esc(name)
        );
    }
    // Requests.
    for e in &client {
        let Some(y) = lane_y(e.endpoint) else {
            continue;
        };
        let x = s.x(e.arrived_us);
        let w = (s.x(e.finished_us.unwrap_or(e.arrived_us)) - x).max(5.0);
        let breach = cited.contains(&e.seq);
        let mut title = format!(
            "#{} {} {} at {}: {}",
            e.seq,
            e.method,
            lane_name(e.endpoint),
            secs(e.arrived_us - t0),
            if e.status == 0 {
                "no response".to_string()
            } else {
                e.status.to_string()
            }
        );
        if let Some(g) = &e.grant_type {
            let _ = write!(
                title,
                " ({})",
                serde_json::to_value(g)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
        }
        if let Some(f) = &e.fault {
            let _ = write!(title, "; fault {f}");
        }
        if let Some(ra) = e.response_header("retry-after") {
            let _ = write!(title, "; Retry-After {ra}");
        }
        if breach {
            title.push_str("; cited by a failing rule");
        }
        let stroke = if e.fault.is_some() {
            " stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"2 1\""
        } else {
            ""
        };
        let mut mark = format!(
            "<rect class=\"req\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\" fill=\"{}\"{stroke}><title>{}</title></rect>",
            y + 6.0,
            lane_h - 12.0,
            status_colour(e),
            esc(&title)
        );
        if breach {
            // A ring around the mark, so its colour (the answer) stays visible.
            let _ = write!(
                mark,
                "<rect class=\"breach-ring\" x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" rx=\"4\" fill=\"none\" stroke=\"#b71c1c\" stroke-width=\"2\"/>",
                x - 3.0,
                y + 2.0,
                w + 6.0,
                lane_h - 4.0
            );
        }
        if breach {
            let _ = write!(
                svg,
                "<a href=\"#ev-{}-{}\" class=\"breach\">{mark}</a>",
                slug(&sc.name),
                e.seq
            );
        } else {
            svg.push_str(&mark);
        }
    }
    if !commands.is_empty() {
        let y = top + lane_h * lanes.len() as f64;
        for (a, b, op, ok) in &commands {
            let x = s.x(*a);
            let w = (s.x(*b) - x).max(2.0);
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\" fill=\"{}\" fill-opacity=\"0.7\"><title>{op} at {} ({:.0} ms): {}</title></rect>",
                y + 8.0,
                lane_h - 16.0,
                if *ok { "#78909c" } else { "#ef9a9a" },
                secs(a - t0),
                (b - a) as f64 / 1000.0,
                if *ok { "ok" } else { "failed" }
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

const LEGEND: &str = "<p class=\"legend\"><span><i style=\"background:#43a047\"></i>2xx/3xx</span><span><i style=\"background:#f9a825\"></i>4xx</span><span><i style=\"background:#8e24aa\"></i>429</span><span><i style=\"background:#e53935\"></i>5xx</span><span><i style=\"background:#424242\"></i>no response</span><span><i style=\"background:#fff;border:1.5px dashed #000\"></i>fault injected</span><span><i style=\"background:#fff;border:3px solid #b71c1c\"></i>cited by a failing rule</span><span><i style=\"background:#ce93d8;opacity:.6\"></i>Retry-After window</span><span><i style=\"background:#90caf9;opacity:.6\"></i>expected back-off</span><span><i style=\"background:#78909c\"></i>app command</span></p>";

fn scenario_section(sc: &ScenarioReport, journals: &Journals) -> String {
    let mut out = String::new();
    let open = matches!(
        sc.verdict.as_str(),
        "fail" | "error" | "warn" | "inconclusive"
    );
    let _ = write!(
        out,
        "<section class=\"sc\" id=\"sc-{}\"><details{}><summary><span class=\"badge {}\">{}</span><h2><code>{}</code></h2><span class=\"muted\">{} · {} flow · {} requests · {:.1} s</span></summary><div class=\"body\">",
        slug(&sc.name),
        if open { " open" } else { "" },
        esc(&sc.verdict),
        label(&sc.verdict),
        esc(&sc.name),
        esc(&sc.summary),
        esc(&sc.flow),
        sc.requests,
        sc.duration_ms as f64 / 1000.0
    );
    match &sc.outcome {
        Outcome::NotApplicable { reason } => {
            let _ = write!(
                out,
                "<p class=\"muted\">Not applicable: {}</p>",
                esc(reason)
            );
        }
        Outcome::ClientFailed {
            reason,
            stderr_tail,
        } => {
            let _ = write!(
                out,
                "<p><strong>The client failed:</strong> {}</p><pre>{}</pre>",
                esc(reason),
                esc(&stderr_tail.join("\n"))
            );
        }
        Outcome::Unjudgeable { reason } => {
            let _ = write!(
                out,
                "<p><strong>tokenstorm could not judge this run:</strong> {}</p>",
                esc(reason)
            );
        }
        Outcome::Completed => {}
    }
    let (j, t) = journals
        .map
        .get(&sc.name)
        .map(|(j, t)| (j.as_slice(), t.as_slice()))
        .unwrap_or((&[], &[]));
    if !matches!(sc.outcome, Outcome::NotApplicable { .. }) {
        out.push_str(&timeline(sc, j, t));
    }
    out.push_str("<h3>Rules</h3><ul class=\"ev\">");
    let t0 = j
        .iter()
        .filter(|e| e.endpoint.is_client_facing())
        .map(|e| e.arrived_us)
        .chain(t.first().map(|x| x.at_us))
        .min()
        .unwrap_or(0);
    for v in &sc.rules {
        let (cls, word) = match (v.status, &v.expected) {
            (Status::Fail, Some(_)) => ("rule-na", "accepted fail"),
            (Status::Fail, None) => ("rule-fail", "fail"),
            (Status::Error, _) => ("rule-fail", "error"),
            (Status::Pass, _) => ("rule-pass", "pass"),
            (Status::NotApplicable, _) => ("rule-na", "n/a"),
        };
        let guidance = model::rules::rule(&v.rule)
            .map(|r| r.guidance)
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li><span class=\"{cls}\">{word}</span> <code>{}</code> <span class=\"muted\">({}, “{}”)</span>: {}",
            esc(&v.rule),
            v.level,
            esc(guidance),
            esc(&v.summary)
        );
        if let Some(r) = &v.expected {
            let _ = write!(out, " <em>Accepted: {}</em>", esc(r));
        }
        if !v.evidence.is_empty() {
            out.push_str("<ul class=\"ev\">");
            for e in &v.evidence {
                let id = e
                    .seq
                    .filter(|_| v.status == Status::Fail)
                    .map(|s| format!(" id=\"ev-{}-{s}\"", slug(&sc.name)))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<li{id}><code>{}</code> (+{}) {}</li>",
                    secs(e.at_us),
                    secs(e.at_us.saturating_sub(t0)),
                    esc(&e.what)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></div></details></section>");
    out
}

/// Renders `report.html`.
pub fn render(r: &Report, journals: &Journals) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>tokenstorm: {}</title><style>{CSS}</style></head><body>",
        r.headline()
    );
    let _ = write!(
        out,
        "<h1><span class=\"badge {}\">{}</span> tokenstorm: {}</h1><p class=\"muted\">Client <code>{}</code> · {} · {:.1} s · tokenstorm {}{}{}</p>",
        if r.exit_code() == 0 { "pass" } else { "fail" },
        if r.exit_code() == 0 { "PASS" } else { "FAIL" },
        r.headline(),
        esc(&r.client),
        utc(r.started_unix),
        r.duration_ms as f64 / 1000.0,
        esc(&r.tokenstorm_version),
        if r.strict { " · strict" } else { "" },
        if r.mode == crate::Mode::Observe { " · observe mode (journal-only rules)" } else { "" }
    );
    let _ = write!(
        out,
        "<p><strong>{}</strong> scenario(s): {} passed, {} failed, {} warned, {} not applicable, {} errors.</p>",
        s.scenarios, s.passed, s.failed, s.warned, s.not_applicable, s.errors
    );
    if r.interrupted {
        out.push_str("<p><strong>Interrupted:</strong> only the scenarios judged before the run stopped are here.</p>");
    }
    if let Some(d) = &r.baseline {
        let _ = write!(
            out,
            "<p><strong>{}</strong> against the baseline: {} new fail(s), {} fixed, {} still failing.</p>",
            if d.regressed() { "Regressed" } else { "No regression" },
            d.new_fails.len(),
            d.fixed.len(),
            d.still_failing.len()
        );
        if !d.new_fails.is_empty() {
            out.push_str("<table><tr><th>new fail</th><th>rule</th><th>why</th></tr>");
            for c in &d.new_fails {
                let _ = write!(
                    out,
                    "<tr><td><a href=\"#sc-{}\"><code>{}</code></a></td><td><code>{}</code></td><td>{}</td></tr>",
                    slug(&c.scenario),
                    esc(&c.scenario),
                    esc(&c.rule),
                    esc(&c.summary)
                );
            }
            out.push_str("</table>");
        }
    }
    if !r.stale_expected_failures.is_empty() {
        out.push_str(
            "<p><strong>Out-of-date expected failures</strong> (they no longer fail):</p><ul>",
        );
        for e in &r.stale_expected_failures {
            let _ = write!(
                out,
                "<li><code>{}</code> / <code>{}</code>: {}</li>",
                esc(&e.scenario),
                esc(&e.rule),
                esc(&e.reason)
            );
        }
        out.push_str("</ul>");
    }
    let order = reading_order(r);
    out.push_str("<table><tr><th></th><th>scenario</th><th>failing rules</th><th>requests</th><th>time</th></tr>");
    for sc in &order {
        let failing: Vec<String> = sc
            .rules
            .iter()
            .filter(|v| matches!(v.status, Status::Fail | Status::Error) && v.expected.is_none())
            .map(|v| format!("<code>{}</code>", esc(&v.rule)))
            .collect();
        let _ = write!(
            out,
            "<tr><td><span class=\"badge {}\">{}</span></td><td><a href=\"#sc-{}\"><code>{}</code></a></td><td>{}</td><td>{}</td><td>{:.1} s</td></tr>",
            esc(&sc.verdict),
            label(&sc.verdict),
            slug(&sc.name),
            esc(&sc.name),
            failing.join(", "),
            sc.requests,
            sc.duration_ms as f64 / 1000.0
        );
    }
    out.push_str("</table>");
    out.push_str(LEGEND);
    for sc in &order {
        out.push_str(&scenario_section(sc, journals));
    }
    out.push_str("<p class=\"muted\">Times are seconds on the mock's clock; (+x) is from the scenario's first request. Tokens appear only as fingerprints.</p></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
