//! The capture path against the owned encoder and the caches' invalidations.

use std::sync::{Arc, Mutex};

use tracing::{Level, Subscriber, info_span};
use tracing_core::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::*;
use crate::wire::{Frame, OwnedEvent, OwnedField, OwnedFrame, OwnedSpan, OwnedValue};

/// The capture half of the layer alone: encodes into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields::new(attrs));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(f) = span.extensions_mut().get_mut::<SpanFields>() {
                f.record(values);
            }
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let origin = CallerThread {
            timestamp_ns: 5,
            thread_id: 6,
            thread_name: Some("t"),
        };
        let mut buf = self.0.lock().expect("test lock");
        buf.clear();
        encode_event(&mut buf, event, &ctx, origin, None);
    }
}

/// Encodes every event twice, with this thread's scope cache (as
/// `MpLayer` does) and by looking the scope up, and keeps both.
#[derive(Clone)]
struct Cached {
    layer: u64,
    caches: Arc<Mutex<Vec<(std::thread::ThreadId, ScopeCache)>>>,
    frames: Arc<Mutex<Vec<Both>>>,
}

/// One event's frame with the cached scope, and with the looked-up one.
type Both = (Vec<u8>, Vec<u8>);

impl Cached {
    fn new(layer: u64) -> Self {
        Self {
            layer,
            caches: Arc::default(),
            frames: Arc::default(),
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Cached {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        Capture::default().on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        Capture::default().on_record(id, values, ctx);
        span_recorded();
    }

    fn on_enter(&self, _: &span::Id, _: Context<'_, S>) {
        scope_moved();
    }

    fn on_exit(&self, _: &span::Id, _: Context<'_, S>) {
        scope_moved();
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let origin = CallerThread {
            timestamp_ns: 5,
            thread_id: 6,
            thread_name: None,
        };
        let me = std::thread::current().id();
        let mut caches = self.caches.lock().expect("test lock");
        let at = match caches.iter().position(|(t, _)| *t == me) {
            Some(at) => at,
            None => {
                caches.push((me, ScopeCache::new(self.layer)));
                caches.len() - 1
            }
        };
        let mut cached = Vec::new();
        let mut callsites = CallsiteCache::new();
        let caches = Caches {
            scope: &mut caches[at].1,
            callsites: &mut callsites,
        };
        encode_event(&mut cached, event, &ctx, origin, Some(caches));
        let mut looked_up = Vec::new();
        encode_event(&mut looked_up, event, &ctx, origin, None);
        self.frames
            .lock()
            .expect("test lock")
            .push((cached, looked_up));
    }
}

fn scope_of(frame: &[u8]) -> Vec<String> {
    let Ok(Frame::Event(e)) = Frame::decode(&frame[4..]) else {
        panic!("not an event");
    };
    e.spans()
        .map(|s| {
            let fields: Vec<_> = s
                .fields()
                .map(|f| format!("{}={}", f.name, f.value))
                .collect();
            format!("{}{{{}}}", s.name(), fields.join(" "))
        })
        .collect()
}

/// Whatever the thread does between its events (enter, leave, enter
/// again, log with an explicit parent or none, have a span's fields
/// recorded from another thread, log through another layer), the
/// cached scope is the one the registry gives.
#[test]
fn a_cached_scope_is_always_the_looked_up_one() {
    let a = Cached::new(1_000_001);
    let b = Cached::new(1_000_002);
    let other = tracing::Dispatch::new(tracing_subscriber::registry().with(b.clone()));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(a.clone()));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("outside");
        let outer = info_span!("outer", n = 1u64, late = tracing::field::Empty);
        let _o = outer.enter();
        tracing::info!("in outer");
        tracing::info!("in outer again");
        {
            let _i = info_span!("inner").entered();
            tracing::info!("in inner");
            tracing::info!(parent: &outer, "explicit parent");
            tracing::info!(parent: None, "root");
            let o = outer.clone();
            std::thread::spawn(move || {
                o.record("late", true);
            })
            .join()
            .expect("recorder");
            tracing::info!("after the record");
            tracing::dispatcher::with_default(&other, || {
                let _x = info_span!("elsewhere", k = 2u64).entered();
                tracing::info!("other layer");
            });
            tracing::info!("back");
            let _again = outer.enter();
            tracing::info!("outer entered twice");
        }
        tracing::info!("left inner");
        let o = outer.clone();
        let d = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&d, || {
                let _e = o.enter();
                tracing::info!("on another thread");
                tracing::info!("on another thread again");
            });
        })
        .join()
        .expect("other thread");
    });
    let frames = a.frames.lock().expect("test lock").clone();
    let scopes: Vec<_> = frames
        .iter()
        .map(|(cached, looked_up)| {
            assert_eq!(scope_of(cached), scope_of(looked_up));
            assert_eq!(cached, looked_up);
            scope_of(cached).join(":")
        })
        .collect();
    assert_eq!(
        scopes,
        [
            "",
            "outer{n=1}",
            "outer{n=1}",
            "outer{n=1}:inner{}",
            "outer{n=1}",
            "",
            "outer{n=1 late=true}:inner{}",
            "outer{n=1 late=true}:inner{}",
            "outer{n=1 late=true}:inner{}",
            "outer{n=1 late=true}",
            "outer{n=1 late=true}",
            "outer{n=1 late=true}",
        ]
    );
    let (cached, looked_up) = &b.frames.lock().expect("test lock")[0];
    assert_eq!(cached, looked_up);
    assert_eq!(scope_of(cached), ["elsewhere{k=2}"]);
}

/// Encodes every event with one callsite cache kept across events, and
/// without, and keeps both.
#[derive(Clone, Default)]
struct Tails {
    cache: Arc<Mutex<Option<CallsiteCache>>>,
    frames: Arc<Mutex<Vec<Both>>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Tails {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let origin = CallerThread {
            timestamp_ns: 5,
            thread_id: 6,
            thread_name: Some("worker"),
        };
        let mut cache = self.cache.lock().expect("test lock");
        let callsites = cache.get_or_insert_with(CallsiteCache::new);
        let mut scope = ScopeCache::new(0);
        let caches = Caches {
            scope: &mut scope,
            callsites,
        };
        let mut cached = Vec::new();
        encode_event(&mut cached, event, &ctx, origin, Some(caches));
        let mut encoded = Vec::new();
        encode_event(&mut encoded, event, &ctx, origin, None);
        let mut frames = self.frames.lock().expect("test lock");
        frames.push((cached, encoded));
    }
}

/// More callsites than the cache has slots, each with its own target,
/// logged in turn twice over (so slots are shared and taken over):
/// every frame is the one encoded without the cache.
#[test]
fn a_cached_header_end_is_always_the_encoded_one() {
    macro_rules! sites {
        ($($i:literal)*) => {
            $(tracing::info!(target: concat!("t", stringify!($i)), n = $i, "site");)*
        };
    }
    let tails = Tails::default();
    let subscriber = tracing_subscriber::registry().with(tails.clone());
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..2 {
            sites!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23);
            tracing::warn!("elsewhere");
        }
    });
    let frames = tails.frames.lock().expect("test lock");
    assert_eq!(frames.len(), 50);
    for (cached, encoded) in frames.iter() {
        assert_eq!(cached, encoded);
    }
    let targets: Vec<_> = frames
        .iter()
        .map(|(f, _)| match Frame::decode(&f[4..]) {
            Ok(Frame::Event(e)) => e.target().to_owned(),
            _ => panic!("not an event"),
        })
        .collect();
    assert_eq!(targets[23], "t23");
    assert_eq!(targets[25], "t0");
}

#[test]
fn an_unchanged_scope_comes_from_the_cache() {
    let a = Cached::new(1_000_003);
    let subscriber = tracing_subscriber::registry().with(a.clone());
    tracing::subscriber::with_default(subscriber, || {
        let _s = info_span!("s", i = 1u64).entered();
        for _ in 0..3 {
            tracing::info!("x");
        }
    });
    let caches = a.caches.lock().expect("test lock");
    let cache = &caches[0].1;
    // The bytes of `s{i=1}`: name, field list length, field.
    assert_eq!(cache.count, 1);
    assert_eq!(cache.bytes.len(), 4 + 1 + 4 + (4 + 1 + 1 + 8));
    assert!(cache.built.is_some());
}

/// The frame the capture encodes for the last event `f` logs.
fn capture_bytes(f: impl FnOnce()) -> Vec<u8> {
    let cap = Capture::default();
    let subscriber = tracing_subscriber::registry().with(cap.clone());
    tracing::subscriber::with_default(subscriber, f);
    cap.0.lock().expect("test lock").clone()
}

fn capture(f: impl FnOnce()) -> OwnedEvent {
    let bytes = capture_bytes(f);
    match Frame::decode(&bytes[4..])
        .expect("valid frame")
        .into_owned()
    {
        OwnedFrame::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

/// A WARN event with a field of each type, in the spans
/// `outer{a=1 late=true}:inner{b="x"}` (`late` recorded afterwards).
fn log_sample() {
    let outer = info_span!("outer", a = 1u64, late = tracing::field::Empty);
    let _o = outer.enter();
    let inner = info_span!("inner", b = "x");
    let _i = inner.enter();
    outer.record("late", true);
    tracing::warn!(
        target: "app",
        i = -3i64, u = 4u64, big = i128::MIN, ubig = u128::MAX, f = 0.5f64,
        ok = false, s = "str", p = ?Some(1),
        "hello {}", 42
    );
}

#[test]
fn event_with_spans_round_trips() {
    let e = capture(log_sample);
    assert_eq!(e.level, Level::WARN);
    assert_eq!(e.target, "app");
    assert_eq!(e.message.as_deref(), Some("hello 42"));
    assert_eq!((e.timestamp_ns, e.thread_id), (5, 6));
    assert_eq!(e.thread_name.as_deref(), Some("t"));
    assert_eq!(e.file.as_deref(), Some(file!()));
    assert_eq!(e.module_path.as_deref(), Some(module_path!()));
    assert!(e.line.is_some());
    let values: Vec<_> = e
        .fields
        .iter()
        .map(|f| (f.name.as_str(), &f.value))
        .collect();
    assert_eq!(
        values,
        [
            ("i", &OwnedValue::I64(-3)),
            ("u", &OwnedValue::U64(4)),
            ("big", &OwnedValue::I128(i128::MIN)),
            ("ubig", &OwnedValue::U128(u128::MAX)),
            ("f", &OwnedValue::F64(0.5)),
            ("ok", &OwnedValue::Bool(false)),
            ("s", &OwnedValue::Str("str".into())),
            ("p", &OwnedValue::Debug("Some(1)".into())),
        ]
    );
    let spans: Vec<_> = e
        .spans
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(spans, [("outer", vec!["a", "late"]), ("inner", vec!["b"])]);
}

/// The live capture and [`OwnedEvent`] write the same event as the same
/// bytes: both go through the one encoder of the event layout.
#[test]
fn capture_and_owned_event_encode_the_same_bytes() {
    let captured = capture_bytes(log_sample);
    let line = capture(log_sample).line;
    let field = |name: &str, value| OwnedField {
        name: name.into(),
        value,
    };
    let owned = OwnedEvent {
        seq: 0,
        timestamp_ns: 5,
        level: Level::WARN,
        target: "app".into(),
        module_path: Some(module_path!().into()),
        file: Some(file!().into()),
        line,
        thread_id: 6,
        thread_name: Some("t".into()),
        message: Some("hello 42".into()),
        fields: vec![
            field("i", OwnedValue::I64(-3)),
            field("u", OwnedValue::U64(4)),
            field("big", OwnedValue::I128(i128::MIN)),
            field("ubig", OwnedValue::U128(u128::MAX)),
            field("f", OwnedValue::F64(0.5)),
            field("ok", OwnedValue::Bool(false)),
            field("s", OwnedValue::Str("str".into())),
            field("p", OwnedValue::Debug("Some(1)".into())),
        ],
        spans: vec![
            OwnedSpan {
                name: "outer".into(),
                fields: vec![
                    field("a", OwnedValue::U64(1)),
                    field("late", OwnedValue::Bool(true)),
                ],
            },
            OwnedSpan {
                name: "inner".into(),
                fields: vec![field("b", OwnedValue::Str("x".into()))],
            },
        ],
    };
    let mut encoded = Vec::new();
    OwnedFrame::Event(owned).encode(&mut encoded);
    assert_eq!(captured, encoded);
    // And without spans, fields or thread name: only the header differs.
    let bare = capture_bytes(|| tracing::info!("alone"));
    let again = match Frame::decode(&bare[4..]).expect("decodes").into_owned() {
        OwnedFrame::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    };
    let mut encoded = Vec::new();
    OwnedFrame::Event(again).encode(&mut encoded);
    assert_eq!(bare, encoded);
}

#[cfg(feature = "log")]
#[test]
fn a_bridged_log_record_keeps_its_own_metadata() {
    let e = capture(|| mplog_test_support::log_through_the_bridge(1));
    assert_eq!(e.level, Level::WARN);
    assert_eq!(e.target, "dep");
    assert_eq!(e.module_path.as_deref(), Some("dep::inner"));
    assert_eq!(e.file.as_deref(), Some("dep/src/inner.rs"));
    assert_eq!(e.line, Some(42));
    assert_eq!(e.message.as_deref(), Some("from log 1"));
    assert!(e.fields.is_empty(), "no log.* fields: {:?}", e.fields);
}

#[test]
fn event_outside_spans_has_no_scope() {
    let e = capture(|| tracing::info!("alone"));
    assert!(e.spans.is_empty());
    assert_eq!(e.message.as_deref(), Some("alone"));
}

#[test]
fn deep_scopes_keep_their_order() {
    let e = capture(|| {
        // Each span is created inside the previous one.
        let mut entered = Vec::new();
        for i in 0..5 {
            entered.push(info_span!("s", i).entered());
        }
        tracing::info!("deep");
    });
    let order: Vec<_> = e.spans.iter().map(|s| s.fields[0].value.clone()).collect();
    let expected: Vec<_> = (0..5).map(OwnedValue::I64).collect();
    assert_eq!(order, expected);
}
