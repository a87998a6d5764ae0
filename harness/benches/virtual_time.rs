//! Virtual time: the whole built-in library against the reference client in-process, on tokio's
//! paused clock (`tokenstorm::inproc`), start to report. The target is under 5 s of wall time
//! (docs/performance.md); on the real clock the same library takes over a minute, bound by its
//! scenarios' waits.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::Duration;
use tokenstorm::inproc::InProcess;

fn reference() -> InProcess {
    InProcess::new("reference-client", |env| {
        let (config, scopes) =
            reference_client::driven::config_from(|k| env.get(k)).map_err(|e| e.to_string())?;
        let client = reference_client::Client::new(config).map_err(|e| e.to_string())?;
        Ok(Arc::new(reference_client::driven::Driver::new(client, scopes)) as _)
    })
}

fn library_on_virtual_time(c: &mut Criterion) {
    let scenarios = tokenstorm::library::builtin().unwrap();
    let out = tempfile::tempdir().unwrap();
    c.bench_function("library_in_process_on_virtual_time", |b| {
        b.iter(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            let report = rt
                .block_on(tokenstorm::inproc::run(
                    reference(),
                    scenarios.clone(),
                    out.path(),
                ))
                .unwrap();
            assert_eq!(report.summary.errors, 0);
            report
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    targets = library_on_virtual_time
}
criterion_main!(benches);
