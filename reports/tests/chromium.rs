//! `report.html` in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test.sh`) loads the self-contained file with networking off, its DOM has every
//! scenario's timeline, and a screenshot is taken (kept under `target/` for a look).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    let p = std::env::var_os("TOKENSTORM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        p.is_file(),
        "headless Chromium is needed at {} (scripts/test.sh installs Debian's `chromium`; or set TOKENSTORM_CHROMIUM)",
        p.display()
    );
    p
}

fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        // Offline: any fetch the page tried would fail (and the CSP forbids it anyway).
        "--proxy-server=127.0.0.1:9",
        "--window-size=1280,1600",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_html_report_renders_offline_in_headless_chromium() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run");
    let r = tokenstorm_reports::load(&fixture.join("report.json")).unwrap();
    let html = tokenstorm_reports::html::render(
        &r,
        &tokenstorm_reports::html::Journals::from_dir(&fixture, &r),
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url("),
        "no remote resources"
    );
    assert!(!html.contains("<script"), "no script needed");

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let profile = tempfile::tempdir().unwrap();
    let dom = headless(profile.path())
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The browser parsed what we wrote: one timeline per applicable scenario, breach marks
    // linked to evidence items that exist.
    let applicable = r
        .scenarios
        .iter()
        .filter(|s| s.verdict != "not_applicable")
        .count();
    assert_eq!(
        dom.matches("<svg class=\"tl\"").count(),
        applicable,
        "timelines"
    );
    assert!(dom.contains("class=\"breach\""));
    for link in dom.split("href=\"#ev-").skip(1) {
        let id = &link[..link.find('"').unwrap()];
        assert!(
            dom.contains(&format!("id=\"ev-{id}\"")),
            "dangling evidence link {id}"
        );
    }

    let shot = out.join("timeline.png");
    let profile = tempfile::tempdir().unwrap();
    let s = headless(profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("{url}#sc-throttle-429-short"))
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Width and height from the IHDR chunk: the window's size.
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 1600));
    assert!(
        png.len() > 20_000,
        "a blank page compresses to almost nothing"
    );
}
