//! Providers: how to join, publish, subscribe and leave. Media always flows through our own
//! client, so every provider is measured the same way.

pub mod whip_whep;
