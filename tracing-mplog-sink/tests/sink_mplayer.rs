//! The sink fed by the real worker side: `MpLayer`s in threads.

mod support;

use std::thread;

use mplog_test_support::assert_series;
use support::*;

#[test]
fn mp_layers_in_threads_reach_their_files_once_and_in_order() {
    const EVENTS: u64 = 500;
    let env = Env::new();
    let sink = env.start_consolidated("mp");
    let workers: Vec<_> = (1..=4u32)
        .map(|w| {
            let endpoint = sink.endpoint().to_string();
            thread::spawn(move || {
                send_events(&endpoint, &format!("w{w}"), || {
                    for n in 1..=EVENTS {
                        tracing::info!(n, "w{w} e{n}");
                    }
                });
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
