//! Runs a sans-IO live player ([`crate::media::live::player`]) over HTTP on the tokio runtime:
//! its fetches go out through one shared `reqwest` client (pooled keep-alive connections, as a
//! CDN's viewers hold them), bodies are read in chunks and cut off past the player's limit, and
//! every request has a deadline. One task per viewer.

use super::http_body::{error_chain, read_limited};
use crate::base::{Micros, WallClock};
use crate::media::live::player::flv::FlvPlayer;
use crate::media::live::player::hls::HlsPlayer;
use crate::media::live::player::{Fetch, Fetched, LiveStats};
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait for a playlist, segment or part (a blocking reload is held up to a few seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a running player's samples are handed over.
const TICK_US: Micros = 1_000_000;

/// Hands a player's stats to `each` at most once a second (and once at the end).
pub struct Ticks<F> {
    each: F,
    next: Micros,
}

impl<F: FnMut(&mut LiveStats, Micros)> Ticks<F> {
    pub fn new(each: F) -> Self {
        Self { each, next: 0 }
    }

    fn maybe(&mut self, stats: &mut LiveStats, now: Micros) {
        if now >= self.next {
            self.next = now + TICK_US;
            (self.each)(stats, now);
        }
    }

    /// Hands over what is due; at the end (`until`, or `stop`) plays out up to it, hands over
    /// the rest and says so.
    fn or_end(
        &mut self,
        player: &mut impl Playing,
        now: Micros,
        until: Micros,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        self.maybe(player.stats(), now);
        let ended = now >= until || *stop.borrow();
        if ended {
            player.advance(now.min(until));
            (self.each)(player.stats(), now.min(until));
        }
        ended
    }
}

/// What the drivers need of a player besides its own protocol.
trait Playing {
    fn advance(&mut self, now: Micros);
    fn stats(&mut self) -> &mut LiveStats;
}

impl Playing for HlsPlayer {
    fn advance(&mut self, now: Micros) {
        HlsPlayer::advance(self, now);
    }
    fn stats(&mut self) -> &mut LiveStats {
        &mut self.stats
    }
}

impl Playing for FlvPlayer {
    fn advance(&mut self, now: Micros) {
        FlvPlayer::advance(self, now);
    }
    fn stats(&mut self) -> &mut LiveStats {
        &mut self.stats
    }
}

/// Plays HLS or LL-HLS until `until` (on `clock`) or until `stop` turns true.
pub async fn run_hls<F: FnMut(&mut LiveStats, Micros)>(
    mut player: HlsPlayer,
    http: reqwest::Client,
    clock: WallClock,
    (until, mut stop): (Micros, watch::Receiver<bool>),
    mut ticks: Ticks<F>,
) -> HlsPlayer {
    loop {
        let now = clock.now();
        if ticks.or_end(&mut player, now, until, &stop) {
            return player;
        }
        if let Some(fetch) = player.poll(now) {
            let sent_at = clock.now();
            let result = tokio::select! {
                r = fetch_whole(&http, &fetch, &clock, sent_at) => r,
                _ = sleep_until(&clock, until) => continue,
                _ = stopped(&mut stop) => continue,
            };
            player.on_fetched(fetch.id, result, clock.now());
            continue;
        }
        let wake = player.wakeup().max(now + 1_000).min(until);
        tokio::select! {
            _ = sleep_until(&clock, wake) => player.advance(clock.now()),
            _ = stopped(&mut stop) => {}
        }
    }
}

/// Resolves once `stop` turns true (never, if nobody can turn it).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(clock: &WallClock, at: Micros) {
    let wait = at.saturating_sub(clock.now());
    tokio::time::sleep(Duration::from_micros(wait)).await;
}

/// One GET, its body read whole up to `fetch.max_bytes`.
async fn fetch_whole(
    http: &reqwest::Client,
    fetch: &Fetch,
    clock: &WallClock,
    sent_at: Micros,
) -> Result<Fetched, String> {
    let request = async {
        let response = http
            .get(&fetch.url)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let body = read_limited(response, fetch.max_bytes)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Fetched {
            status,
            body,
            sent_at,
            done_at: clock.now(),
        })
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no whole response in {} s",
            REQUEST_TIMEOUT.as_secs()
        )),
    }
}

/// A transport error in a few words, then its causes (reqwest's own text names the URL, which
/// the player records apart).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else if e.is_body() || e.is_decode() {
        "body cut off"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {}", error_chain(cause)),
        None => kind.to_string(),
    }
}

/// Plays an HTTP-FLV stream until `until` or `stop`, reconnecting as the player asks.
pub async fn run_flv<F: FnMut(&mut LiveStats, Micros)>(
    mut player: FlvPlayer,
    http: reqwest::Client,
    clock: WallClock,
    (until, mut stop): (Micros, watch::Receiver<bool>),
    mut ticks: Ticks<F>,
) -> FlvPlayer {
    loop {
        let now = clock.now();
        if ticks.or_end(&mut player, now, until, &stop) {
            return player;
        }
        let Some(fetch) = player.poll(now) else {
            let wake = player.wakeup().unwrap_or(until).max(now + 1_000).min(until);
            tokio::select! {
                _ = sleep_until(&clock, wake) => player.advance(clock.now()),
                _ = stopped(&mut stop) => {}
            }
            continue;
        };
        tokio::select! {
            _ = stream(&mut player, &http, &fetch, &clock, &mut ticks) => {}
            _ = sleep_until(&clock, until) => {}
            _ = stopped(&mut stop) => {}
        }
    }
}

/// One HTTP-FLV response, fed to the player as it comes.
async fn stream<F: FnMut(&mut LiveStats, Micros)>(
    player: &mut FlvPlayer,
    http: &reqwest::Client,
    fetch: &Fetch,
    clock: &WallClock,
    ticks: &mut Ticks<F>,
) {
    let connect = tokio::time::timeout(REQUEST_TIMEOUT, http.get(&fetch.url).send()).await;
    let mut response = match connect {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return player.on_end(fetch.id, Some(describe(&e)), clock.now()),
        Err(_) => {
            let what = format!("no response in {} s", REQUEST_TIMEOUT.as_secs());
            return player.on_end(fetch.id, Some(what), clock.now());
        }
    };
    player.on_status(fetch.id, response.status().as_u16(), clock.now());
    if !response.status().is_success() {
        return;
    }
    loop {
        // A live stream that goes quiet for this long has stopped.
        match tokio::time::timeout(REQUEST_TIMEOUT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let now = clock.now();
                player.on_bytes(fetch.id, &chunk, now);
                ticks.maybe(&mut player.stats, now);
            }
            Ok(Ok(None)) => return player.on_end(fetch.id, None, clock.now()),
            Ok(Err(e)) => return player.on_end(fetch.id, Some(describe(&e)), clock.now()),
            Err(_) => {
                let what = format!("no data for {} s", REQUEST_TIMEOUT.as_secs());
                return player.on_end(fetch.id, Some(what), clock.now());
            }
        }
    }
}
