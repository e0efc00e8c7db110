//! The small live-room API the embedded provider serves beside WHIP/WHEP, so a big-sale scenario
//! has comments, likes and flash-sale orders to load with no setup: orders draw on a limited
//! stock and are refused once it is gone, never oversold. Sans-IO: plain state and calls.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct LiveRooms {
    rooms: BTreeMap<String, RoomState>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    pub comments: u64,
    pub likes: u64,
    /// Items left, by SKU.
    pub stock: BTreeMap<String, u64>,
    /// Items sold, by SKU.
    pub sold: BTreeMap<String, u64>,
    pub orders: u64,
    pub refused_orders: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("\"{0}\" is not on sale in this room")]
    UnknownSku(String),
    #[error("sold out: {left} of \"{sku}\" left, {wanted} wanted")]
    SoldOut { sku: String, left: u64, wanted: u64 },
    #[error("an order needs a quantity of 1 or more")]
    ZeroQuantity,
}

/// An accepted order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order: u64,
    pub left: u64,
}

impl LiveRooms {
    fn room(&mut self, room: &str) -> &mut RoomState {
        self.rooms.entry(room.to_string()).or_default()
    }

    pub fn comment(&mut self, room: &str) -> u64 {
        let r = self.room(room);
        r.comments += 1;
        r.comments
    }

    pub fn like(&mut self, room: &str, count: u64) -> u64 {
        let r = self.room(room);
        r.likes += count;
        r.likes
    }

    /// Puts `stock` items of `sku` on sale (replacing what was left).
    pub fn set_stock(&mut self, room: &str, sku: &str, stock: u64) {
        self.room(room).stock.insert(sku.to_string(), stock);
    }

    /// Takes `qty` of `sku` if that many are left; otherwise refuses and changes nothing.
    pub fn order(&mut self, room: &str, sku: &str, qty: u64) -> Result<Order, OrderError> {
        if qty == 0 {
            return Err(OrderError::ZeroQuantity);
        }
        let r = self.room(room);
        let Some(left) = r.stock.get_mut(sku) else {
            r.refused_orders += 1;
            return Err(OrderError::UnknownSku(sku.to_string()));
        };
        if *left < qty {
            let left = *left;
            r.refused_orders += 1;
            return Err(OrderError::SoldOut {
                sku: sku.to_string(),
                left,
                wanted: qty,
            });
        }
        *left -= qty;
        let left = *left;
        *r.sold.entry(sku.to_string()).or_default() += qty;
        r.orders += 1;
        Ok(Order {
            order: r.orders,
            left,
        })
    }

    pub fn state(&self, room: &str) -> RoomState {
        self.rooms.get(room).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_stop_exactly_at_the_stock() {
        let mut rooms = LiveRooms::default();
        rooms.set_stock("r", "lipstick", 5);
        let results: Vec<_> = (0..8).map(|_| rooms.order("r", "lipstick", 1)).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
        assert_eq!(results[4], Ok(Order { order: 5, left: 0 }));
        assert!(matches!(
            results[5],
            Err(OrderError::SoldOut { left: 0, .. })
        ));
        // A bigger order than what is left changes nothing.
        rooms.set_stock("r", "mask", 3);
        assert!(rooms.order("r", "mask", 4).is_err());
        assert_eq!(rooms.order("r", "mask", 3), Ok(Order { order: 6, left: 0 }));
        let s = rooms.state("r");
        assert_eq!(
            (s.sold["lipstick"], s.sold["mask"], s.refused_orders),
            (5, 3, 4)
        );
    }
}
