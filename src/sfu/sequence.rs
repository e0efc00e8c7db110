//! A subscriber's own sequence numbering of a forwarded stream.
//!
//! SRTP keeps a rollover count that each side infers from the sequence numbers it has seen,
//! starting at 0 with the first packet (RFC 3711 §3.3.1). The publisher's extended sequence
//! number carries every wrap since it started; a viewer who joins after a wrap would be sent
//! packets encrypted with a rollover count it cannot know, and would reject every one. So each
//! subscriber's numbering leaves out the wraps that happened before its first packet, keeping the
//! 16-bit number on the wire (NACKs still name the publisher's numbers).

use str0m::rtp::SeqNo;

const WRAP: u64 = 1 << 16;

#[derive(Debug, Default, Clone, Copy)]
pub struct SubscriberSequence {
    wraps_before_first: Option<u64>,
}

impl SubscriberSequence {
    /// The number to send `publisher_seq` under, or `None` for a straggler from before this
    /// subscriber's first wrap that cannot be numbered without going back past zero.
    pub fn number(&mut self, publisher_seq: SeqNo) -> Option<SeqNo> {
        let seq = *publisher_seq;
        let base = *self.wraps_before_first.get_or_insert(seq - seq % WRAP);
        seq.checked_sub(base).map(SeqNo::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_from_before_any_wrap_gets_the_publishers_numbers() {
        let mut numbering = SubscriberSequence::default();
        for seq in [65_530u64, 65_535, 65_536, 70_000] {
            assert_eq!(numbering.number(seq.into()), Some(seq.into()));
        }
    }

    #[test]
    fn a_subscriber_who_joins_after_wraps_starts_at_rollover_zero_with_the_same_low_bits() {
        let mut numbering = SubscriberSequence::default();
        let first = 3 * WRAP + 17;
        assert_eq!(numbering.number(first.into()), Some(17.into()));
        assert_eq!(
            numbering.number((4 * WRAP + 2).into()),
            Some((WRAP + 2).into())
        );
        assert_eq!(numbering.number((3 * WRAP - 1).into()), None);
    }
}
