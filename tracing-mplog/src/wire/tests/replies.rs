//! Version 2: the hello's token, and the sink's replies.

use proptest::prelude::*;

use super::*;

#[test]
fn version_1_hello_has_no_token_and_version_2_has_one() {
    let mut h = hello();
    h.version = 1;
    h.token = "ignored in v1".into();
    let v1 = body(&OwnedFrame::Hello(h.clone()));
    let Frame::Hello(back) = Frame::decode(&v1).expect("v1") else {
        panic!("hello");
    };
    assert_eq!((back.version, back.token), (1, ""));

    h.version = 2;
    h.token = "s3cret".into();
    let v2 = body(&OwnedFrame::Hello(h.clone()));
    assert_eq!(v2.len(), v1.len() + 4 + 6, "a trailing str");
    let Frame::Hello(back) = Frame::decode(&v2).expect("v2") else {
        panic!("hello");
    };
    assert_eq!((back.version, back.token), (2, "s3cret"));
    // A version-2 hello without its token is truncated.
    let err = Frame::decode(&v2[..v1.len()]).expect_err("no token");
    assert!(
        matches!(
            err,
            WireError::Truncated {
                what: "hello.token",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn debug_never_shows_the_token() {
    let mut h = hello();
    h.token = "s3cret".into();
    let text = format!("{h:?}");
    assert!(
        !text.contains("s3cret") && text.contains("redacted"),
        "{text}"
    );
    let bytes = body(&OwnedFrame::Hello(h));
    let text = format!("{:?}", Frame::decode(&bytes).expect("hello"));
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn reply_bytes_are_as_documented() {
    let mut out = Vec::new();
    Reply::Welcome(Welcome {
        version: 2,
        capabilities: capabilities::AUTH_TOKEN,
    })
    .encode(&mut out);
    assert_eq!(out, [11, 0, 0, 0, 0x81, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    out.clear();
    Reply::Refused(Refused {
        reason: RefuseReason::TokenRequired,
        text: "no",
    })
    .encode(&mut out);
    assert_eq!(out, [8, 0, 0, 0, 0x82, 2, 2, 0, 0, 0, b'n', b'o']);
    out.clear();
    Reply::Ack(Ack { seq: 7 }).encode(&mut out);
    assert_eq!(out, [9, 0, 0, 0, 0x83, 7, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn replies_and_frames_do_not_mix() {
    let mut out = Vec::new();
    Reply::Ack(Ack { seq: 1 }).encode(&mut out);
    let err = Frame::decode(&out[4..]).expect_err("a reply is no worker frame");
    assert!(
        matches!(err, WireError::UnknownFrameType { found: 0x83 }),
        "{err}"
    );
    let err = Reply::decode(&body(&OwnedFrame::Goodbye(Goodbye { last_seq: 1 })))
        .expect_err("a worker frame is no reply");
    assert!(
        matches!(err, WireError::UnknownFrameType { found: 0x04 }),
        "{err}"
    );
    assert!(matches!(Reply::decode(&[]), Err(WireError::EmptyFrame)));
    let mut welcome = Vec::new();
    Reply::Welcome(Welcome {
        version: 2,
        capabilities: 0,
    })
    .encode(&mut welcome);
    welcome.push(0);
    let err = Reply::decode(&welcome[4..]).expect_err("trailing");
    assert!(matches!(err, WireError::TrailingBytes { .. }), "{err}");
}

#[test]
fn unknown_refuse_reasons_decode() {
    for code in 0..=u8::MAX {
        assert_eq!(RefuseReason::from_u8(code).to_u8(), code);
    }
    assert_eq!(RefuseReason::from_u8(200), RefuseReason::Other(200));
}

fn arb_reply_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (any::<u16>(), any::<u64>()).prop_map(|(version, capabilities)| {
            let mut out = Vec::new();
            Reply::Welcome(Welcome {
                version,
                capabilities,
            })
            .encode(&mut out);
            out
        }),
        (any::<u8>(), ".{0,16}").prop_map(|(code, text)| {
            let mut out = Vec::new();
            Reply::Refused(Refused {
                reason: RefuseReason::from_u8(code),
                text: &text,
            })
            .encode(&mut out);
            out
        }),
        any::<u64>().prop_map(|seq| {
            let mut out = Vec::new();
            Reply::Ack(Ack { seq }).encode(&mut out);
            out
        }),
    ]
}

proptest! {
    #[test]
    fn replies_round_trip(stream in prop::collection::vec(arb_reply_bytes(), 1..6)) {
        let bytes: Vec<u8> = stream.concat();
        let mut reader = FrameReader::new(&bytes[..]);
        let mut again = Vec::new();
        while let Some(body) = reader.read_raw().expect("valid stream") {
            Reply::decode(body).expect("valid reply").encode(&mut again);
        }
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn arbitrary_reply_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(reply) = Reply::decode(&bytes) {
            let mut again = Vec::new();
            reply.encode(&mut again);
            prop_assert_eq!(&again[4..], &bytes[..]);
        }
    }

    #[test]
    fn mutated_replies_never_panic(
        reply in arb_reply_bytes(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = reply[4..].to_vec();
        let i = at.index(body.len());
        body[i] = byte;
        let _ = Reply::decode(&body);
        let _ = Reply::decode(&body[..i]);
    }
}
