//! A bounded, in-memory record of requests a mock received, for tests to assert
//! on. Oldest entries are dropped first, so a long-running mock cannot grow
//! without bound. What goes in (and what is redacted) is each mock's business.

use std::collections::VecDeque;
use std::sync::Mutex;

pub struct Journal<T> {
    entries: Mutex<VecDeque<T>>,
    capacity: usize,
}

impl<T: Clone> Journal<T> {
    /// A journal keeping the last `capacity` entries; 0 records nothing.
    pub fn new(capacity: usize) -> Self {
        Journal { entries: Mutex::new(VecDeque::new()), capacity }
    }

    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn record(&self, entry: T) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub fn entries(&self) -> Vec<T> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_entries_up_to_capacity() {
        let journal = Journal::new(3);
        for i in 0..5 {
            journal.record(i);
        }
        assert_eq!(journal.entries(), vec![2, 3, 4]);
        journal.clear();
        assert!(journal.entries().is_empty());
        let off = Journal::new(0);
        off.record(1);
        assert!(off.entries().is_empty() && !off.is_enabled());
    }
}
