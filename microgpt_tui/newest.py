"""Keep a view up to date with a computation too slow for the UI thread, without a pile-up."""

from textual.worker import get_current_worker

from engine.probe import Cancelled


class NewestOnly:
    """Compute `compute(*args, cancelled=...)` in a thread worker of `node` and hand the result
    to `show` on the UI thread, or the exception it raised to `failed`.

    One computation runs at a time: a request made while one runs waits, replacing any
    request that was waiting, and runs when that one is done. Training reports ten times a
    second, and a thread cannot be stopped from outside, so cancelling each stale worker for
    a new one (Textual's `exclusive`) would leave threads piling up, and a computation longer
    than the interval between reports would never finish. The node's removal cancels the
    worker; `compute` asks `cancelled` and raises engine.probe.Cancelled to stop early."""

    def __init__(self, node, compute, show, failed):
        self.node = node
        self.compute = compute
        self.show = show
        self.failed = failed
        self.worker = None
        self.waiting = None  # the args of the newest request not yet started

    @property
    def busy(self):
        return self.worker is not None and not self.worker.is_finished

    def __call__(self, *args):
        if self.busy:
            self.waiting = args
        else:
            self.start(args)

    def start(self, args):
        self.worker = self.node.run_worker(lambda: self.run(args), thread=True,
                                           exit_on_error=False)

    def run(self, args):
        worker = get_current_worker()
        try:
            outcome = (self.show, self.compute(*args, cancelled=lambda: worker.is_cancelled))
        except Cancelled:
            return
        except Exception as error:  # whatever it is, `failed` tells the learner
            outcome = (self.failed, error)
        if not worker.is_cancelled:
            self.node.app.call_from_thread(self.done, *outcome)

    def done(self, handle, value):
        # The node may have gone while the call waited for the UI thread.
        if not self.node.is_attached:
            return
        handle(value)
        waiting, self.waiting = self.waiting, None
        if waiting is not None:
            self.start(waiting)
