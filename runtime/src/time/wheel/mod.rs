//! Hierarchical timer wheel: the per-loop store of timers, keyed by deadline.
//!
//! Each event loop owns one [`Wheel`]. Times are plain `u64` milliseconds since
//! the loop started; the wheel never reads a clock itself. The loop asks
//! [`Wheel::next_expiration`] for its poll timeout, polls, then calls
//! [`Wheel::advance`] with the current time to collect what is due.
//!
//! # Level layout
//!
//! There are [`NUM_LEVELS`] levels of 64 slots. A slot of level `n` covers
//! `64^n` ms, so the whole of level `n` covers `64^(n+1)` ms:
//!
//! | level | one slot    | whole level (reach) |
//! |-------|-------------|---------------------|
//! | 0     | 1 ms        | 64 ms               |
//! | 1     | 64 ms       | ~4.1 s              |
//! | 2     | ~4.1 s      | ~4.4 min            |
//! | 3     | ~4.4 min    | ~4.7 h              |
//! | 4     | ~4.7 h      | ~12.4 days          |
//! | 5     | ~12.4 days  | ~2.2 years          |
//!
//! A timer is stored on the lowest level whose slot width still separates its
//! deadline from `elapsed`: the highest bit in which `elapsed ^ when` differs,
//! divided by 6, is the level, and bits `6n..6n+6` of `when` are the slot.
//! So every timer on level `n` shares its level-`n+1` slot with `elapsed`, and
//! every occupied slot on a lower level is due before any on a higher level.
//!
//! Each level keeps an `occupied: u64` bitfield (bit `i` set iff slot `i` is
//! non-empty), so the next slot to fire is found with a rotate and a
//! `trailing_zeros`, never by scanning (see [`level`]).
//!
//! # Advancing and cascading
//!
//! [`Wheel::advance`] repeatedly takes the earliest occupied slot whose start
//! is `<= now`, sets `elapsed` to that start, and empties it: entries whose
//! deadline is `<= elapsed` fire, the others are re-inserted relative to the
//! new `elapsed`, which puts them on a lower level ("cascading"). A timer thus
//! moves down at most [`NUM_LEVELS`] times and fires exactly at its deadline,
//! never early. Timers fire in deadline order; equal deadlines fire in
//! insertion order.
//!
//! # Far and past deadlines
//!
//! Deadlines more than [`MAX_DURATION`] ms (~2.2 years) past `elapsed` are
//! parked on the top level in the slot their deadline maps to; when that slot
//! comes round they are simply re-inserted, once per ~2.2-year revolution,
//! until they are in reach. They still fire exactly on time. Times within
//! 2^36 ms of `u64::MAX` are not supported (they are ~584 million years away).
//!
//! A deadline `<= elapsed` at insertion goes on a separate `pending` list and
//! fires at the next [`Wheel::advance`], whatever `now` is passed, sorted by
//! deadline.
//!
//! # Storage
//!
//! Entries live in a [`Slab`]; each slot (and the pending list) is an
//! intrusive doubly linked list threaded through the entries' `prev`/`next`
//! indices, and each entry records which list it is on. Insertion and removal
//! are O(1); `advance` costs O(fired + cascaded + levels). A [`TimerKey`]
//! carries the entry's slab index and a generation unique to that insertion,
//! so a key whose timer fired or was removed is recognised as stale even after
//! the slab index is reused, and never touches another timer.

mod level;

use std::fmt;

use slab::Slab;

use self::level::{Expiration, LEVEL_MULT, Level, Slot};

/// Number of levels. Six levels of 64 slots at 1 ms resolution reach
/// `64^6` ms (~2.2 years); see the module docs for the per-level table.
pub(crate) const NUM_LEVELS: usize = 6;

/// The furthest (in ms past `elapsed`) a deadline can be placed directly in
/// its final slot; later deadlines are parked on the top level and
/// re-inserted when their slot comes round.
pub(crate) const MAX_DURATION: u64 = (1 << (6 * NUM_LEVELS)) - 1;

/// A per-loop hierarchical timer wheel holding values of type `T`.
///
/// Single-threaded: it is owned by one event loop and needs no `Sync`.
pub(crate) struct Wheel<T> {
    /// Every timer, wherever it is linked.
    entries: Slab<Entry<T>>,
    /// The levels, finest first.
    levels: Box<[Level; NUM_LEVELS]>,
    /// Timers inserted with a deadline `<= elapsed`; they fire at the next
    /// `advance`.
    pending: Slot,
    /// A lower bound on the deadlines in `pending` (not raised on removal,
    /// which keeps it a valid lower bound); `u64::MAX` once drained.
    pending_min: u64,
    /// The time the wheel has advanced to.
    elapsed: u64,
    /// The generation the next inserted entry gets.
    next_generation: u64,
    /// Scratch space used to sort `pending` by deadline when it fires.
    due: Vec<(u64, usize)>,
}

/// Identifies one inserted timer, for [`Wheel::remove`].
///
/// Stays valid until the timer fires or is removed; after that it is stale,
/// and using it is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    /// Index of the entry in the slab.
    index: usize,
    /// The generation given to the entry at insertion.
    generation: u64,
}

/// One timer, linked into exactly one list (a slot or `pending`).
struct Entry<T> {
    /// What the caller stored.
    value: T,
    /// Deadline, ms since the loop started.
    when: u64,
    /// Unique per insertion; checked against [`TimerKey::generation`].
    generation: u64,
    /// Previous entry in the same list.
    prev: Option<usize>,
    /// Next entry in the same list.
    next: Option<usize>,
    /// Which list the entry is on.
    location: Location,
}

/// Which list an entry is linked into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    /// The wheel's `pending` list.
    Pending,
    /// Slot `slot` of level `level`.
    Slot { level: usize, slot: usize },
}

/// The level on which a deadline `when > elapsed` is stored.
fn level_for(elapsed: u64, when: u64) -> usize {
    const SLOT_MASK: u64 = LEVEL_MULT as u64 - 1;
    let mut masked = (elapsed ^ when) | SLOT_MASK;
    if masked >= MAX_DURATION {
        // Beyond the wheel's reach: park on the top level.
        masked = MAX_DURATION - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / 6
}

// ===== impl Wheel =====

impl<T> Wheel<T> {
    /// An empty wheel with `elapsed == 0`.
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Slab::new(),
            levels: Box::new(std::array::from_fn(Level::new)),
            pending: Slot::default(),
            pending_min: u64::MAX,
            elapsed: 0,
            next_generation: 0,
            due: Vec::new(),
        }
    }

    /// The time (ms) the wheel has advanced to.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of timers stored.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no timers are stored.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stores `value` to fire at `when` (ms). A deadline `<= elapsed()` fires
    /// at the next [`advance`](Self::advance). O(1).
    pub(crate) fn insert(&mut self, when: u64, value: T) -> TimerKey {
        let generation = self.next_generation;
        self.next_generation += 1;
        let index = self.entries.insert(Entry {
            value,
            when,
            generation,
            prev: None,
            next: None,
            location: Location::Pending,
        });
        self.link(index);
        TimerKey { index, generation }
    }

    /// The value of timer `key`, or `None` if it already fired or was removed. O(1).
    pub(crate) fn get(&self, key: TimerKey) -> Option<&T> {
        let entry = self.entries.get(key.index)?;
        (entry.generation == key.generation).then_some(&entry.value)
    }

    /// Removes the timer `key` and returns its value, or `None` if it already
    /// fired or was removed. O(1).
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index)?;
        if entry.generation != key.generation {
            return None;
        }
        match entry.location {
            Location::Pending => self.pending.unlink(key.index, &mut self.entries),
            Location::Slot { level, slot } => {
                self.levels[level].unlink(slot, key.index, &mut self.entries)
            }
        }
        Some(self.entries.remove(key.index).value)
    }

    /// The earliest time (ms) at which [`advance`](Self::advance) would fire
    /// something, or `None` if the wheel is empty.
    ///
    /// Never later than the earliest deadline stored. It is exact when the
    /// earliest timer is within 64 ms of `elapsed()`; otherwise it may be the
    /// start of the slot holding it, where the timer cascades to a finer level
    /// (advancing to it fires nothing, and the next call is more precise).
    /// If timers are pending from a past deadline it is `<= elapsed()`.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            return Some(self.pending_min);
        }
        self.next_slot().map(|exp| exp.deadline)
    }

    /// Moves the wheel to `now` and pushes onto `fired` every value whose
    /// deadline is `<= now`, in deadline order (equal deadlines in insertion
    /// order). A `now` before `elapsed()` only fires the pending timers.
    ///
    /// Returns when the first timer fired was due (the earliest deadline, so `now`
    /// minus it is how late the latest of them fires), or `None` when none fired. A
    /// timer inserted with a deadline already past counts as due from `elapsed()` at its
    /// insertion (the wheel's last advance), not from its deadline: it was not waiting
    /// before it existed.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<T>) -> Option<u64> {
        let mut earliest = (!self.pending.is_empty()).then_some(self.elapsed);
        self.fire_pending(fired);
        while let Some(exp) = self.next_slot() {
            if exp.deadline > now {
                break;
            }
            let first = self.process_slot(exp, fired);
            earliest = earliest.or(first);
        }
        self.elapsed = self.elapsed.max(now);
        earliest
    }

    /// Links entry `index` into the list matching its deadline.
    fn link(&mut self, index: usize) {
        let when = self.entries[index].when;
        let location = if when <= self.elapsed {
            self.pending.push_back(index, &mut self.entries);
            self.pending_min = self.pending_min.min(when);
            Location::Pending
        } else {
            let level = level_for(self.elapsed, when);
            let slot = self.levels[level].slot_for(when);
            self.levels[level].push_back(slot, index, &mut self.entries);
            Location::Slot { level, slot }
        };
        self.entries[index].location = location;
    }

    /// The earliest occupied slot. Lower levels are always due first.
    fn next_slot(&self) -> Option<Expiration> {
        let found = self
            .levels
            .iter()
            .find_map(|level| level.next_expiration(self.elapsed));
        #[cfg(debug_assertions)]
        if let Some(exp) = found {
            for higher in &self.levels[exp.level + 1..] {
                if let Some(other) = higher.next_expiration(self.elapsed) {
                    debug_assert!(other.deadline >= exp.deadline, "{other:?} before {exp:?}");
                }
            }
        }
        found
    }

    /// Fires every pending entry, sorted (stably) by deadline.
    fn fire_pending(&mut self, fired: &mut Vec<T>) {
        let mut cursor = self.pending.take();
        self.pending_min = u64::MAX;
        self.due.clear();
        while let Some(index) = cursor {
            let entry = &self.entries[index];
            cursor = entry.next;
            self.due.push((entry.when, index));
        }
        self.due.sort_by_key(|&(when, _)| when);
        for &(_, index) in &self.due {
            fired.push(self.entries.remove(index).value);
        }
    }

    /// Empties the slot `exp` at its start time: due entries fire, the rest
    /// cascade to lower levels. Returns the earliest deadline fired, if any.
    fn process_slot(&mut self, exp: Expiration, fired: &mut Vec<T>) -> Option<u64> {
        debug_assert!(exp.deadline > self.elapsed);
        self.elapsed = exp.deadline;
        let mut earliest: Option<u64> = None;
        let mut cursor = self.levels[exp.level].take_slot(exp.slot);
        while let Some(index) = cursor {
            let entry = &self.entries[index];
            cursor = entry.next;
            if entry.when <= self.elapsed {
                let when = entry.when;
                earliest = Some(earliest.map_or(when, |e| e.min(when)));
                fired.push(self.entries.remove(index).value);
            } else {
                self.link(index);
            }
        }
        earliest
    }
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.entries.len())
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn get_sees_live_timers_only() {
        let mut wheel = Wheel::new();
        let key = wheel.insert(10, "a");
        assert_eq!(wheel.get(key), Some(&"a"));
        assert_eq!(wheel.remove(key), Some("a"));
        assert_eq!(wheel.get(key), None);
        // The slab slot may be reused; the old key's generation no longer matches.
        let again = wheel.insert(10, "b");
        assert_eq!(wheel.get(key), None);
        assert_eq!(wheel.get(again), Some(&"b"));
    }

    /// Advances to `now` and returns what fired.
    fn advance<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<T> {
        let mut fired = Vec::new();
        wheel.advance(now, &mut fired);
        fired
    }

    /// Steps the wheel through its own `next_expiration`s up to `until`,
    /// returning `(time fired at, value)`.
    fn step_through<T: Copy>(wheel: &mut Wheel<T>, until: u64) -> Vec<(u64, T)> {
        let mut out = Vec::new();
        while let Some(next) = wheel.next_expiration() {
            if next > until {
                break;
            }
            let now = next.max(wheel.elapsed());
            out.extend(advance(wheel, now).into_iter().map(|v| (now, v)));
        }
        advance(wheel, until);
        out
    }

    #[test]
    fn empty() {
        let mut wheel = Wheel::<u32>::new();
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
        assert!(advance(&mut wheel, 1_000).is_empty());
        assert_eq!(wheel.elapsed(), 1_000);
    }

    #[test]
    fn fires_in_deadline_order() {
        let mut wheel = Wheel::new();
        for when in [500, 3, 70, 64, 4_100, 1, 63, 70, 100_000] {
            wheel.insert(when, when);
        }
        assert_eq!(wheel.len(), 9);
        assert_eq!(wheel.next_expiration(), Some(1));
        assert_eq!(advance(&mut wheel, 100), vec![1, 3, 63, 64, 70, 70]);
        assert_eq!(advance(&mut wheel, 1_000_000), vec![500, 4_100, 100_000]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn advance_reports_the_earliest_deadline_fired() {
        let mut wheel = Wheel::new();
        let mut fired = Vec::new();
        assert_eq!(wheel.advance(10, &mut fired), None);
        for when in [300, 40, 5_000, 90] {
            wheel.insert(when, when);
        }
        // Late by 60 ms for the timer due at 40: the report is its deadline.
        assert_eq!(wheel.advance(100, &mut fired), Some(40));
        assert_eq!(fired, vec![40, 90]);
        assert_eq!(wheel.advance(200, &mut fired), None);
        // A timer inserted already past due counts from the last advance (200).
        wheel.insert(150, 150);
        fired.clear();
        assert_eq!(wheel.advance(260, &mut fired), Some(200));
        assert_eq!(fired, vec![150]);
        fired.clear();
        assert_eq!(wheel.advance(10_000, &mut fired), Some(300));
        assert_eq!(fired, vec![300, 5_000]);
    }

    #[test]
    fn ties_fire_in_insertion_order() {
        let mut wheel = Wheel::new();
        for i in 0..10 {
            wheel.insert(5_000, i);
        }
        advance(&mut wheel, 4_990);
        for i in 10..20 {
            wheel.insert(5_000, i);
        }
        assert_eq!(advance(&mut wheel, 5_000), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn fires_exactly_on_time() {
        let mut wheel = Wheel::new();
        let deadlines = [1, 63, 64, 65, 4_095, 4_096, 262_143, 262_145, 16_777_300];
        for when in deadlines {
            wheel.insert(when, when);
        }
        let fired = step_through(&mut wheel, u64::from(u32::MAX));
        let expect: Vec<_> = deadlines.iter().map(|&w| (w, w)).collect();
        assert_eq!(fired, expect);
    }

    #[test]
    fn removed_timer_never_fires() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, "a");
        let b = wheel.insert(10, "b");
        let c = wheel.insert(100_000, "c");
        assert_eq!(wheel.remove(b), Some("b"));
        assert_eq!(wheel.remove(b), None);
        assert_eq!(wheel.remove(c), Some("c"));
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_expiration(), Some(10));
        assert_eq!(advance(&mut wheel, 1_000_000), vec!["a"]);
        assert_eq!(wheel.remove(a), None);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn stale_key_does_not_touch_reused_slot() {
        let mut wheel = Wheel::new();
        let old = wheel.insert(5, 1);
        assert_eq!(advance(&mut wheel, 5), vec![1]);
        let new = wheel.insert(10, 2);
        assert_eq!(old.index, new.index, "the slab slot is reused");
        assert_eq!(wheel.remove(old), None);
        assert_eq!(wheel.len(), 1);
        assert_eq!(advance(&mut wheel, 10), vec![2]);
        // And a removed key stays stale too.
        let k = wheel.insert(20, 3);
        assert_eq!(wheel.remove(k), Some(3));
        let k2 = wheel.insert(20, 4);
        assert_eq!(wheel.remove(k), None);
        assert_eq!(wheel.remove(k2), Some(4));
    }

    #[test]
    fn past_deadlines_fire_on_next_advance() {
        let mut wheel = Wheel::new();
        advance(&mut wheel, 1_000);
        wheel.insert(1_000, "now");
        wheel.insert(10, "ten");
        wheel.insert(1_010, "later");
        wheel.insert(0, "zero");
        let gone = wheel.insert(1, "removed");
        wheel.remove(gone);
        let next = wheel.next_expiration().unwrap();
        assert!(next <= 1, "{next}");
        // Even an advance to a time before `elapsed` fires them.
        assert_eq!(advance(&mut wheel, 999), vec!["zero", "ten", "now"]);
        assert_eq!(wheel.elapsed(), 1_000);
        assert_eq!(wheel.next_expiration(), Some(1_010));
        // Removing every pending timer leaves no early wake-up behind.
        let k = wheel.insert(3, "x");
        wheel.remove(k);
        assert_eq!(wheel.next_expiration(), Some(1_010));
    }

    const SEC: u64 = 1_000;
    const HOUR: u64 = 3_600 * SEC;
    const DAY: u64 = 24 * HOUR;

    #[test]
    fn far_deadlines_fire_exactly_small_steps() {
        let mut wheel = Wheel::new();
        let deadlines = [HOUR + 7, 3 * DAY + 11, 13 * DAY, 400 * DAY + 1];
        for when in deadlines {
            wheel.insert(when, when);
        }
        // Walk via next_expiration: every wake-up is at or before a deadline.
        let fired = step_through(&mut wheel, 401 * DAY);
        let expect: Vec<_> = deadlines.iter().map(|&w| (w, w)).collect();
        assert_eq!(fired, expect);
    }

    #[test]
    fn far_deadlines_fire_exactly_big_steps() {
        let mut wheel = Wheel::new();
        let deadlines = [HOUR + 7, 3 * DAY + 11, 13 * DAY, 400 * DAY + 1];
        for when in deadlines {
            wheel.insert(when, when);
        }
        for when in deadlines {
            assert!(advance(&mut wheel, when - 1).is_empty(), "early at {when}");
            assert_eq!(advance(&mut wheel, when), vec![when]);
        }
        // One giant step fires everything, in order.
        for when in deadlines {
            wheel.insert(when + 1_000 * DAY, when);
        }
        assert_eq!(advance(&mut wheel, 2_000 * DAY), deadlines.to_vec());
    }

    #[test]
    fn beyond_reach_deadlines_are_parked_and_fire_on_time() {
        let mut wheel = Wheel::new();
        advance(&mut wheel, 12_345);
        let far = [
            MAX_DURATION,
            1 << 36,
            (1 << 36) + 5,
            (1 << 40) + 3,
            (5 << 36) + (1 << 30),
            1 << 50,
        ];
        for when in far {
            wheel.insert(when, when);
        }
        // A nearer top-level timer sharing the current top-level slot index.
        wheel.insert(3 << 30, 3 << 30);
        let fired = step_through(&mut wheel, 1 << 50);
        let mut expect: Vec<_> = far.iter().chain(&[3 << 30]).map(|&w| (w, w)).collect();
        expect.sort();
        assert_eq!(fired, expect);

        // Big steps: nothing is early.
        let mut wheel = Wheel::new();
        for when in far {
            wheel.insert(when, when);
        }
        let mut sorted = far.to_vec();
        sorted.sort();
        for when in sorted {
            assert!(advance(&mut wheel, when - 1).is_empty(), "early at {when}");
            assert_eq!(advance(&mut wheel, when), vec![when]);
        }
    }

    #[test]
    fn u64_max_deadline_never_fires_early() {
        let mut wheel = Wheel::new();
        let k = wheel.insert(u64::MAX, ());
        assert!(advance(&mut wheel, 1 << 45).is_empty());
        assert!(wheel.next_expiration().unwrap() > 1 << 45);
        assert_eq!(wheel.remove(k), Some(()));
    }

    #[test]
    fn hundred_thousand_timers() {
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..100_000u64)
            .map(|i| wheel.insert(i.wrapping_mul(7_919) % (40 * DAY), i))
            .collect();
        assert_eq!(wheel.len(), 100_000);
        for (i, key) in keys.iter().enumerate() {
            if i % 2 == 0 {
                assert_eq!(wheel.remove(*key), Some(i as u64));
            }
        }
        assert_eq!(wheel.len(), 50_000);
        let mut fired = Vec::new();
        wheel.advance(40 * DAY, &mut fired);
        assert_eq!(fired.len(), 50_000);
        assert!(fired.iter().all(|i| i % 2 == 1));
        assert!(wheel.is_empty());
        for key in keys {
            assert_eq!(wheel.remove(key), None);
        }
    }

    #[test]
    fn level_for_layout() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(60, 70), 1);
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(0, 4_096), 2);
        assert_eq!(level_for(0, 1 << 30), 5);
        assert_eq!(level_for(0, MAX_DURATION), 5);
        assert_eq!(level_for(0, u64::MAX), 5);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        InsertAbs(u64),
        Remove(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..200).prop_map(Op::Insert),
            2 => (0u64..20_000).prop_map(Op::Insert),
            1 => (0u64..(1 << 38)).prop_map(Op::Insert),
            1 => (0u64..5_000).prop_map(Op::InsertAbs),
            2 => any::<usize>().prop_map(Op::Remove),
            3 => (0u64..100).prop_map(Op::Advance),
            1 => (0u64..(1 << 37)).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #[test]
        fn matches_btreemap_model(ops in proptest::collection::vec(op(), 1..300)) {
            let mut wheel = Wheel::new();
            // (when, seq) -> seq; insertion order breaks ties.
            let mut model = BTreeMap::new();
            // Every key ever handed out, live or stale.
            let mut keys: Vec<(TimerKey, u64, u64)> = Vec::new();
            let mut now = 0u64;
            for (seq, op) in ops.into_iter().enumerate() {
                let seq = seq as u64;
                match op {
                    Op::Insert(delta) => {
                        let when = now + delta;
                        keys.push((wheel.insert(when, seq), when, seq));
                        model.insert((when, seq), seq);
                    }
                    Op::InsertAbs(when) => {
                        keys.push((wheel.insert(when, seq), when, seq));
                        model.insert((when, seq), seq);
                    }
                    Op::Remove(i) => {
                        if !keys.is_empty() {
                            let (key, when, value) = keys[i % keys.len()];
                            let expect = model.remove(&(when, value));
                            prop_assert_eq!(wheel.remove(key), expect);
                        }
                    }
                    Op::Advance(delta) => {
                        now += delta;
                        let mut fired = Vec::new();
                        wheel.advance(now, &mut fired);
                        let mut expect = Vec::new();
                        while let Some(entry) = model.first_entry() {
                            if entry.key().0 > now {
                                break;
                            }
                            expect.push(entry.remove());
                        }
                        prop_assert_eq!(fired, expect);
                        prop_assert_eq!(wheel.elapsed(), now);
                    }
                }
                prop_assert_eq!(wheel.len(), model.len());
                let model_min = model.keys().next().map(|&(when, _)| when);
                match (wheel.next_expiration(), model_min) {
                    (None, None) => {}
                    (Some(next), Some(min)) => prop_assert!(next <= min, "{} > {}", next, min),
                    (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                }
            }
        }
    }
}
