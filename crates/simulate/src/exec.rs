//! A single-threaded executor in virtual time: tasks are polled only when woken, time moves only
//! when the event loop pops the next event. Deterministic: tasks are polled in wake order, and
//! the event queue is ordered by (time, sequence number).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<Vec<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Ok(mut r) = self.ready.lock() {
            r.push(self.id);
        }
    }
}

/// The executor.
pub(crate) struct Executor {
    tasks: Vec<Option<Task>>,
    wakers: Vec<Waker>,
    free: Vec<usize>,
    ready: Arc<Mutex<Vec<usize>>>,
    live: usize,
}

impl Executor {
    pub(crate) fn new() -> Self {
        Executor {
            tasks: Vec::new(),
            wakers: Vec::new(),
            free: Vec::new(),
            ready: Arc::new(Mutex::new(Vec::new())),
            live: 0,
        }
    }

    /// Add a task; it is polled at the next [`Executor::run_until_stalled`].
    pub(crate) fn spawn(&mut self, fut: impl Future<Output = ()> + 'static) {
        let id = match self.free.pop() {
            Some(id) => {
                self.tasks[id] = Some(Box::pin(fut));
                id
            }
            None => {
                self.tasks.push(Some(Box::pin(fut)));
                let id = self.tasks.len() - 1;
                self.wakers.push(Waker::from(Arc::new(TaskWaker {
                    id,
                    ready: self.ready.clone(),
                })));
                id
            }
        };
        self.live += 1;
        if let Ok(mut r) = self.ready.lock() {
            r.push(id);
        }
    }

    /// Poll woken tasks until none is woken.
    pub(crate) fn run_until_stalled(&mut self) {
        loop {
            let batch = match self.ready.lock() {
                Ok(mut r) => std::mem::take(&mut *r),
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            for id in batch {
                let Some(task) = self.tasks.get_mut(id).and_then(Option::as_mut) else {
                    continue;
                };
                let mut cx = Context::from_waker(&self.wakers[id]);
                if task.as_mut().poll(&mut cx).is_ready() {
                    self.tasks[id] = None;
                    self.free.push(id);
                    self.live -= 1;
                }
            }
        }
    }

    /// Tasks not finished.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.live
    }
}

/// Ordered events: popped by `(time, sequence)`, so events at one time keep their push order.
pub(crate) struct Queue<E> {
    heap: BinaryHeap<Reverse<Keyed<E>>>,
    seq: u64,
}

pub(crate) struct Keyed<E> {
    at: Duration,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Keyed<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E> Eq for Keyed<E> {}
impl<E> PartialOrd for Keyed<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Keyed<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

impl<E> Queue<E> {
    pub(crate) fn new() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
    pub(crate) fn push(&mut self, at: Duration, event: E) {
        self.seq += 1;
        self.heap.push(Reverse(Keyed {
            at,
            seq: self.seq,
            event,
        }));
    }
    pub(crate) fn pop(&mut self) -> Option<(Duration, E)> {
        self.heap.pop().map(|Reverse(k)| (k.at, k.event))
    }
}

/// A one-shot signal between the event loop and a task.
#[derive(Default)]
pub(crate) struct Signal {
    done: bool,
    waker: Option<Waker>,
}

/// Shared handle to a [`Signal`].
pub(crate) type SignalRef = Rc<RefCell<Signal>>;

/// Fire a signal: its task is woken.
pub(crate) fn fire(s: &SignalRef) {
    let mut g = s.borrow_mut();
    g.done = true;
    if let Some(w) = g.waker.take() {
        w.wake();
    }
}

/// Wait for a signal.
pub(crate) struct Wait(pub(crate) SignalRef);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0.borrow_mut();
        if g.done {
            Poll::Ready(())
        } else {
            g.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_when_signalled_in_order() {
        let mut ex = Executor::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        let s: SignalRef = Rc::default();
        for i in 0..3 {
            let (log, s) = (log.clone(), s.clone());
            ex.spawn(async move {
                log.borrow_mut().push(format!("start {i}"));
                if i == 1 {
                    Wait(s).await;
                }
                log.borrow_mut().push(format!("end {i}"));
            });
        }
        ex.run_until_stalled();
        assert_eq!(ex.live(), 1);
        fire(&s);
        ex.run_until_stalled();
        assert_eq!(ex.live(), 0);
        assert_eq!(
            *log.borrow(),
            ["start 0", "end 0", "start 1", "start 2", "end 2", "end 1"]
        );
    }
}
