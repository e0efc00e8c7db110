//! HTTP for the live-room API (see `live_room`): comments, likes, stock and flash-sale orders,
//! served by the reference SFU next to WHIP/WHEP.

use super::live_room::{LiveRooms, OrderError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

type Rooms = Arc<Mutex<LiveRooms>>;

pub fn router() -> Router {
    let rooms: Rooms = Arc::default();
    Router::new()
        .route("/api/rooms/{room}", get(state))
        .route("/api/rooms/{room}/comments", post(comment))
        .route("/api/rooms/{room}/likes", post(like))
        .route("/api/rooms/{room}/stock/{sku}", put(stock))
        .route("/api/rooms/{room}/orders", post(order))
        .with_state(rooms)
}

fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "room state unavailable").into_response()
}

async fn state(State(rooms): State<Rooms>, Path(room): Path<String>) -> Response {
    match rooms.lock() {
        Ok(r) => Json(r.state(&room)).into_response(),
        Err(_) => busy(),
    }
}

async fn comment(State(rooms): State<Rooms>, Path(room): Path<String>) -> Response {
    match rooms.lock() {
        Ok(mut r) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "comments": r.comment(&room) })),
        )
            .into_response(),
        Err(_) => busy(),
    }
}

#[derive(Deserialize)]
struct Likes {
    #[serde(default = "one")]
    count: u64,
}

fn one() -> u64 {
    1
}

async fn like(
    State(rooms): State<Rooms>,
    Path(room): Path<String>,
    body: Option<Json<Likes>>,
) -> Response {
    let count = body.map_or(1, |Json(l)| l.count);
    match rooms.lock() {
        Ok(mut r) => Json(serde_json::json!({ "likes": r.like(&room, count) })).into_response(),
        Err(_) => busy(),
    }
}

#[derive(Deserialize)]
struct Stock {
    stock: u64,
}

async fn stock(
    State(rooms): State<Rooms>,
    Path((room, sku)): Path<(String, String)>,
    Json(s): Json<Stock>,
) -> Response {
    match rooms.lock() {
        Ok(mut r) => {
            r.set_stock(&room, &sku, s.stock);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => busy(),
    }
}

#[derive(Deserialize)]
struct OrderRequest {
    sku: String,
    #[serde(default = "one")]
    qty: u64,
}

async fn order(
    State(rooms): State<Rooms>,
    Path(room): Path<String>,
    Json(o): Json<OrderRequest>,
) -> Response {
    let Ok(mut r) = rooms.lock() else {
        return busy();
    };
    match r.order(&room, &o.sku, o.qty) {
        Ok(done) => (StatusCode::CREATED, Json(done)).into_response(),
        Err(e) => {
            let status = match e {
                OrderError::SoldOut { .. } => StatusCode::CONFLICT,
                OrderError::UnknownSku(_) => StatusCode::NOT_FOUND,
                OrderError::ZeroQuantity => StatusCode::BAD_REQUEST,
            };
            (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
}
