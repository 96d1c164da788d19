//! Collectors: functions that add families to a scrape, for figures Keel does not own
//! (a connection pool, an application's cache). [`register_collector`] takes a `Send`
//! function run on the scraping loop; [`register_local_collector`] takes a loop-local
//! (`!Send`) one, run on the loop that registered it, for state that lives on one loop
//! such as a `keel_pool::Pool`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use parking_lot::Mutex;

use super::text::MetricSet;

type Shared = Arc<dyn Fn(&mut MetricSet) + Send + Sync>;
type Local = Rc<dyn Fn(&mut MetricSet)>;

static GLOBAL: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

/// Registers `collect` for every scrape from now on; it runs on the loop serving the
/// scrape, so it must be quick (read snapshots; never block).
///
/// # Examples
///
/// ```
/// use keel_http::metrics::{self, MetricSet};
///
/// metrics::register_collector(|set: &mut MetricSet| {
///     set.gauge("app_build_info", "Build facts.", &[("version", "1.2.3")], 1.0);
/// });
/// assert!(metrics::gather_local().render().contains("app_build_info{version=\"1.2.3\"} 1\n"));
/// ```
pub fn register_collector(collect: impl Fn(&mut MetricSet) + Send + Sync + 'static) {
    GLOBAL.lock().push(Arc::new(collect));
}

/// Registers `collect`, which may hold loop-local state, for every scrape from now on;
/// it runs on the calling thread (a loop) when a scrape visits that loop. Label the
/// samples with the loop (`keel_runtime::current_loop()`) when each loop registers one,
/// or the series of different loops will collide.
pub fn register_local_collector(collect: impl Fn(&mut MetricSet) + 'static) {
    LOCAL.with(|l| l.borrow_mut().push(Rc::new(collect)));
}

/// Runs the process-wide collectors.
pub(crate) fn collect_global(set: &mut MetricSet) {
    // Cloned out, so a collector may register another without deadlocking.
    let collectors: Vec<Shared> = GLOBAL.lock().clone();
    for c in collectors {
        c(set);
    }
}

/// Runs the calling thread's collectors.
pub(crate) fn collect_local(set: &mut MetricSet) {
    let collectors: Vec<Local> = LOCAL.with(|l| l.borrow().clone());
    for c in collectors {
        c(set);
    }
}
