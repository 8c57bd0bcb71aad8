//! The sink fed by the real worker side: `MpLayer`s in threads.

mod sink_support;

use std::thread;

use sink_support::*;
use tracing_mplog::MpLayer;
use tracing_subscriber::prelude::*;

#[test]
fn mp_layers_in_threads_reach_their_files_once_and_in_order() {
    const EVENTS: u64 = 500;
    let env = Env::new();
    let sink = env.start_consolidated("mp");
    let workers: Vec<_> = (1..=4u32)
        .map(|w| {
            let endpoint = sink.endpoint().clone();
            thread::spawn(move || {
                let (layer, guard) = MpLayer::builder()
                    .endpoint(endpoint)
                    .process_name(format!("w{w}"))
                    .build()
                    .expect("MpLayer");
                let subscriber = tracing_subscriber::registry().with(layer);
                tracing::subscriber::with_default(subscriber, || {
                    for n in 1..=EVENTS {
                        tracing::info!(n, "w{w} e{n}");
                    }
                });
                drop(guard); // flushes and says goodbye
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
    let report = sink.shutdown().expect("shutdown");
    let all = env.lines("mp.log");
    assert_eq!(all.len(), 4 * EVENTS as usize);
    for w in 1..=4 {
        let own = env.lines(&format!("w{w}.log"));
        assert_eq!(own.len(), EVENTS as usize);
        assert_series(&own, w, EVENTS);
        assert_series(&all, w, EVENTS);
    }
    assert_eq!(report.processes.len(), 4);
    for p in &report.processes {
        assert_eq!(
            (p.received, p.clean, p.dropped_by_worker),
            (EVENTS, true, 0),
            "{p:?}"
        );
    }
}
