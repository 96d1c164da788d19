//! [`StateMap`]: the states given to a router with
//! [`Router::with_state`](crate::Router::with_state), one value per type, shared by the
//! router and every request it serves (where the [`State`](crate::State) extractor and
//! [`Request::state`](crate::Request::state) read them).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::rc::Rc;

/// The states of one router, one value per type.
#[derive(Clone, Default)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, Rc<dyn Any>>,
}

impl StateMap {
    /// Stores `value`, replacing any earlier value of the same type.
    pub(crate) fn insert<S: 'static>(&mut self, value: S) {
        self.values.insert(TypeId::of::<S>(), Rc::new(value));
    }

    /// The value of type `S`, if any.
    pub(crate) fn get<S: 'static>(&self) -> Option<&S> {
        self.values.get(&TypeId::of::<S>())?.downcast_ref()
    }

    /// Adds `other`'s values of the types this map does not hold.
    pub(crate) fn fill_from(&mut self, other: &StateMap) {
        for (id, value) in &other.values {
            self.values.entry(*id).or_insert_with(|| value.clone());
        }
    }

    /// Whether a value with this type id is stored.
    pub(crate) fn contains(&self, id: TypeId) -> bool {
        self.values.contains_key(&id)
    }
}
