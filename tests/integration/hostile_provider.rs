//! Signalling servers that answer too much: every body is read with a ceiling
//! (`signal::body::MAX_SIGNAL_BODY`), so a huge answer fails its step before it is in memory.

use rtcbench::provider::signal::body::MAX_SIGNAL_BODY;
use rtcbench::provider::signal::{whip, SignalError, Step};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How a fake server answers every request.
#[derive(Clone, Copy)]
enum Answer {
    /// `status`, then a chunked body of 64 KiB chunks until `total` bytes or the client leaves.
    Chunked { status: u16, total: u64 },
    /// A Content-Length of `declared` and no body at all.
    Declared { declared: u64 },
}

/// A server on 127.0.0.1 answering as `answer` says; counts the body bytes it got out.
async fn fake_server(answer: Answer) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/whip/room", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 16 * 1024];
                let _ = socket.read(&mut request).await;
                let _ = respond(&mut socket, answer, &counter).await;
            });
        }
    });
    (url, sent)
}

async fn respond(
    socket: &mut tokio::net::TcpStream,
    answer: Answer,
    sent: &AtomicU64,
) -> std::io::Result<()> {
    match answer {
        Answer::Declared { declared } => {
            let head = format!("HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nContent-Length: {declared}\r\n\r\n");
            socket.write_all(head.as_bytes()).await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Answer::Chunked { status, total } => {
            let head = format!("HTTP/1.1 {status} X\r\nContent-Type: application/sdp\r\nTransfer-Encoding: chunked\r\n\r\n");
            socket.write_all(head.as_bytes()).await?;
            let chunk = vec![b'v'; 64 * 1024];
            while sent.load(Ordering::Relaxed) < total {
                socket
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                socket.write_all(&chunk).await?;
                socket.write_all(b"\r\n").await?;
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            socket.write_all(b"0\r\n\r\n").await?;
        }
    }
    Ok(())
}

/// What `whip::offer` says to a server answering as `answer`, how long it took to say it, and
/// how many body bytes the server got out meanwhile.
async fn refusal(answer: Answer) -> (SignalError, Duration, u64) {
    let (url, sent) = fake_server(answer).await;
    let started = Instant::now();
    let http = reqwest::Client::new();
    let r = whip::offer(&http, &url, "v=0\r\n".into(), None, Duration::from_secs(20)).await;
    let took = started.elapsed();
    let e = r.expect_err("refused");
    tokio::time::sleep(Duration::from_millis(200)).await;
    (e, took, sent.load(Ordering::Relaxed))
}

const TWO_GIB: u64 = 2 << 30;

#[tokio::test]
async fn a_huge_streamed_answer_fails_at_the_limit_without_being_read_whole() {
    // 2 GiB offered; before the limit, a 50 MB body took the process from 28 to 323 MB.
    let (e, took, out) = refusal(Answer::Chunked {
        status: 201,
        total: TWO_GIB,
    })
    .await;
    assert_eq!(e.step, Step::Answer, "{e}");
    let limit = format!("{MAX_SIGNAL_BODY}-byte limit");
    assert!(e.reason.contains(&limit), "{e}");
    eprintln!("refused after {took:?}; the server got {out} bytes out");
    // Socket buffers let a few MB more leave the server; nowhere near the 2 GiB.
    assert!(out < 64 << 20, "{out} bytes were taken in");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let (e, took, _) = refusal(Answer::Declared { declared: 4 << 30 }).await;
    assert_eq!(e.step, Step::Answer, "{e}");
    assert!(e.reason.contains("declared a 4294967296-byte body"), "{e}");
    // The server never sends its body: the refusal did not wait for it.
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn an_error_status_with_a_huge_body_keeps_its_status() {
    let (e, _, _) = refusal(Answer::Chunked {
        status: 500,
        total: TWO_GIB,
    })
    .await;
    assert_eq!(e.step, Step::Status, "{e}");
    assert_eq!(e.status, Some(500));
    assert!(
        e.reason.contains("HTTP 500") && e.reason.contains("limit"),
        "{e}"
    );
}

/// A server that echoes what it was sent, as careless error pages do: the request path (with
/// the URL's secret part percent-encoded), the token lowercased, and `user:token` in base64.
async fn echoing_server() -> String {
    use base64::Engine;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0; 16 * 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let token = head
                    .lines()
                    .find_map(|l| l.strip_prefix("authorization: Bearer "))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("bench:{token}"));
                let body = format!(
                    "no such stream {path}; token {} not valid (basic {basic})",
                    token.to_lowercase()
                );
                let reply = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_echoed_back_encoded_reach_no_result_file() {
    let _heavy = crate::common::heavy().await;
    std::env::set_var("RTCBENCH_TEST_STREAM_KEY", "SK 91b2\"<x>");
    std::env::set_var("RTCBENCH_TEST_ECHO_TOKEN", "Tok-77QZ-echo");
    let base = echoing_server().await;
    let dir = crate::common::temp_dir("echoed-secrets");
    let provider = crate::common::whip_whep_provider(
        &dir,
        "echo",
        &format!("{base}/{{env:RTCBENCH_TEST_STREAM_KEY}}"),
        "token_env = \"RTCBENCH_TEST_ECHO_TOKEN\"\nstep_timeout = \"2s\"\n",
    );
    let toml = format!(
        "{}[[group]]\nname = \"room\"\nreceivers = 1\n",
        crate::common::small_webrtc("echoed-secrets", "3s")
    );
    let r = crate::common::run_in_process(&dir, &toml, 61, vec![provider]).await;
    let g = r.group("room").expect("the room");
    let said = format!("{:?}", g.publisher_failures);
    assert!(said.contains("HTTP 500") && said.contains("***"), "{said}");
    let mut files = 0;
    for entry in std::fs::read_dir(dir.join("out")).expect("the run's folder") {
        let path = entry.expect("entry").path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        files += 1;
        for leak in ["91b2", "91B2", "77QZ", "77qz", "VG9rLTc3UVot", "OTFiMi"] {
            assert!(!text.contains(leak), "{leak} in {}", path.display());
        }
    }
    assert!(files >= 3, "{files} result files read");
    std::fs::remove_dir_all(&dir).ok();
}

/// A server that creates a session (201 and a Location) but answers with no SDP; counts the
/// DELETEs that reach that Location.
async fn garbage_answer_server() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/whip/room", listener.local_addr().expect("addr"));
    let deletes = Arc::new(AtomicU64::new(0));
    let counter = deletes.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 16 * 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let reply = if head.starts_with("DELETE /whip/room/session-1 ") {
                    counter.fetch_add(1, Ordering::Relaxed);
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string()
                } else {
                    let body = "<html>upstream busy</html>";
                    format!(
                        "HTTP/1.1 201 Created\r\nLocation: /whip/room/session-1\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, deletes)
}

/// A session the server created is deleted when its answer turns out to be unusable; before,
/// it stayed open on the provider.
#[tokio::test]
async fn a_session_created_with_an_unusable_answer_is_deleted() {
    let (url, deletes) = garbage_answer_server().await;
    let http = reqwest::Client::new();
    let e = whip::offer(&http, &url, "v=0\r\n".into(), None, Duration::from_secs(5))
        .await
        .expect_err("no SDP in the answer");
    assert_eq!(e.step, Step::Answer, "{e}");
    assert!(
        e.reason.contains("not an SDP answer") && e.reason.contains("was deleted"),
        "{e}"
    );
    assert_eq!(deletes.load(Ordering::Relaxed), 1);
}
