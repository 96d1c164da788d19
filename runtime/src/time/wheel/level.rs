//! One level of the timer wheel: 64 slots, each an intrusive list of entries,
//! plus an `occupied` bitfield so the next non-empty slot is found with one
//! rotate and one `trailing_zeros`, never by scanning.
//!
//! A level does not own its entries: they live in the wheel's slab, and each
//! [`Slot`] only holds the head and tail indices of a doubly linked list threaded
//! through the entries' `prev`/`next` fields (see [`super::Entry`]). The same
//! [`Slot`] type is used by the wheel for its list of already-due entries.

use slab::Slab;

use super::Entry;

/// Number of slots in a level; also the factor between the reach of two
/// neighbouring levels.
pub(super) const LEVEL_MULT: usize = 64;

/// `log2(LEVEL_MULT)`: how many bits of a deadline each level consumes.
const BITS_PER_LEVEL: u32 = LEVEL_MULT.trailing_zeros();

/// A wheel level: `LEVEL_MULT` slots, each covering `slot_range(level)` ms.
pub(super) struct Level {
    /// Which level this is (0 is the finest, 1 ms per slot).
    level: usize,
    /// Bit `i` is set iff `slots[i]` is non-empty.
    occupied: u64,
    /// The slot lists.
    slots: [Slot; LEVEL_MULT],
}

/// The next slot of a level that holds entries, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Expiration {
    /// The level holding the slot.
    pub(super) level: usize,
    /// The slot within that level.
    pub(super) slot: usize,
    /// The time (ms) at which the slot starts. No entry in the slot has an
    /// earlier deadline.
    pub(super) deadline: u64,
}

/// Head and tail of an intrusive doubly linked list of slab entries.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    head: Option<usize>,
    tail: Option<usize>,
}

/// Milliseconds covered by one slot of `level`: `64^level`.
pub(super) const fn slot_range(level: usize) -> u64 {
    1 << (BITS_PER_LEVEL as usize * level)
}

/// Milliseconds covered by all the slots of `level`: `64^(level + 1)`.
pub(super) const fn level_range(level: usize) -> u64 {
    slot_range(level + 1)
}

// ===== impl Level =====

impl Level {
    /// An empty level number `level`.
    pub(super) fn new(level: usize) -> Self {
        Level {
            level,
            occupied: 0,
            slots: [Slot::default(); LEVEL_MULT],
        }
    }

    /// The slot of this level that a deadline of `when` falls into.
    pub(super) fn slot_for(&self, when: u64) -> usize {
        // Truncation is intended: the value is reduced modulo LEVEL_MULT.
        ((when >> (BITS_PER_LEVEL as usize * self.level)) % LEVEL_MULT as u64) as usize
    }

    /// The first occupied slot strictly after the slot containing `now`,
    /// wrapping around, with the first time after `now` at which it starts.
    ///
    /// Starting strictly after `now`'s slot matters on the top level only,
    /// where timers beyond the wheel's reach are parked in whatever slot their
    /// deadline maps to, including the current one: that slot's next start is
    /// a full revolution away, so it must be looked at last. On lower levels
    /// the current slot is always empty (its entries would be on a lower level).
    pub(super) fn next_expiration(&self, now: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let now_slot = self.slot_for(now);
        let start = (now_slot + 1) % LEVEL_MULT;
        let distance = self.occupied.rotate_right(start as u32).trailing_zeros() as usize;
        let slot = (start + distance) % LEVEL_MULT;

        let level_range = level_range(self.level);
        let level_start = now & !(level_range - 1);
        let mut deadline = level_start + slot as u64 * slot_range(self.level);
        if deadline <= now {
            // Only the top level wraps: its slot is in the next revolution.
            deadline = deadline.saturating_add(level_range);
        }
        Some(Expiration {
            level: self.level,
            slot,
            deadline,
        })
    }

    /// Appends entry `idx` to `slot`.
    pub(super) fn push_back<T>(&mut self, slot: usize, idx: usize, entries: &mut Slab<Entry<T>>) {
        self.slots[slot].push_back(idx, entries);
        self.occupied |= 1 << slot;
    }

    /// Unlinks entry `idx`, which must be in `slot`.
    pub(super) fn unlink<T>(&mut self, slot: usize, idx: usize, entries: &mut Slab<Entry<T>>) {
        self.slots[slot].unlink(idx, entries);
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    /// Empties `slot` and returns the first entry of its old list; the rest
    /// are reached through each entry's `next`.
    pub(super) fn take_slot(&mut self, slot: usize) -> Option<usize> {
        self.occupied &= !(1 << slot);
        std::mem::take(&mut self.slots[slot]).head
    }
}

// ===== impl Slot =====

impl Slot {
    /// Whether the list is empty.
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Appends entry `idx` (whose own links are overwritten) at the tail.
    pub(super) fn push_back<T>(&mut self, idx: usize, entries: &mut Slab<Entry<T>>) {
        let old_tail = self.tail;
        {
            let entry = &mut entries[idx];
            entry.prev = old_tail;
            entry.next = None;
        }
        match old_tail {
            Some(t) => entries[t].next = Some(idx),
            None => self.head = Some(idx),
        }
        self.tail = Some(idx);
    }

    /// Unlinks entry `idx`, which must be in this list, in O(1).
    pub(super) fn unlink<T>(&mut self, idx: usize, entries: &mut Slab<Entry<T>>) {
        let (prev, next) = {
            let entry = &mut entries[idx];
            (entry.prev.take(), entry.next.take())
        };
        match prev {
            Some(p) => entries[p].next = next,
            None => {
                debug_assert_eq!(self.head, Some(idx), "entry is not in this list");
                self.head = next;
            }
        }
        match next {
            Some(n) => entries[n].prev = prev,
            None => {
                debug_assert_eq!(self.tail, Some(idx), "entry is not in this list");
                self.tail = prev;
            }
        }
    }

    /// Empties the list and returns its old head.
    pub(super) fn take(&mut self) -> Option<usize> {
        std::mem::take(self).head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(slot_range(0), 1);
        assert_eq!(level_range(0), 64);
        assert_eq!(slot_range(1), 64);
        assert_eq!(level_range(5), 1 << 36);
    }

    #[test]
    fn slot_for_each_level() {
        let when = (3 << 30) | (5 << 24) | (7 << 6) | 9;
        assert_eq!(Level::new(0).slot_for(when), 9);
        assert_eq!(Level::new(1).slot_for(when), 7);
        assert_eq!(Level::new(2).slot_for(when), 0);
        assert_eq!(Level::new(4).slot_for(when), 5);
        assert_eq!(Level::new(5).slot_for(when), 3);
    }

    fn level_with(level: usize, slots: &[usize]) -> Level {
        let mut l = Level::new(level);
        for &s in slots {
            l.occupied |= 1 << s;
        }
        l
    }

    #[test]
    fn next_expiration_empty() {
        assert_eq!(Level::new(0).next_expiration(0), None);
    }

    #[test]
    fn next_expiration_finds_next_slot() {
        let l = level_with(1, &[2, 9]);
        // now = 70 is in slot 1 of level 1 (64..128).
        let exp = l.next_expiration(70).unwrap();
        assert_eq!((exp.slot, exp.deadline), (2, 128));
        let exp = l.next_expiration(130).unwrap();
        assert_eq!((exp.slot, exp.deadline), (9, 9 * 64));
    }

    #[test]
    fn top_level_current_slot_is_last() {
        // Slot 0 holds a parked far timer; slot 3 is due in this revolution.
        let l = level_with(5, &[0, 3]);
        let exp = l.next_expiration(5).unwrap();
        assert_eq!((exp.slot, exp.deadline), (3, 3 << 30));
        let l = level_with(5, &[0]);
        let exp = l.next_expiration(5).unwrap();
        assert_eq!((exp.slot, exp.deadline), (0, 1 << 36));
        // A slot before `now`'s slot wraps to the next revolution.
        let l = level_with(5, &[1]);
        let exp = l.next_expiration(2 << 30).unwrap();
        assert_eq!(exp.deadline, (1 << 36) + (1 << 30));
    }
}
