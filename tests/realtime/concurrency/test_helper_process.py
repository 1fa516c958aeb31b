"""The helper processes' request loop: answers, errors in the handler's words, and what cannot be sent."""
from __future__ import annotations

import threading
from multiprocessing import Pipe

from realtime.concurrency.helper_process import HelperJobError, serve


def test_the_loop_answers_in_order_and_survives_each_kind_of_failure():
    parent, child = Pipe()

    def handle(message: tuple) -> tuple:
        op = message[0]
        if op == "double":
            return (message[1] * 2,)
        if op == "pair":
            return (1, 2)
        if op == "said":
            raise HelperJobError("the bundle has no such model")
        if op == "unpicklable":
            return (lambda: 0,)
        raise ValueError(f"unknown request {op!r}")

    loop = threading.Thread(target=serve, args=(child, handle), daemon=True)
    loop.start()
    for message, reply in [(("double", 21), ("ok", 42)), (("pair",), ("ok", 1, 2)),
                           (("said",), ("error", "the bundle has no such model")),
                           (("what",), ("error", "ValueError: unknown request 'what'"))]:
        parent.send(message)
        assert parent.recv() == reply
    parent.send(("unpicklable",))
    kind, text = parent.recv()
    assert kind == "error" and "cannot be sent back" in text
    parent.send(("double", 1))  # the loop goes on after each
    assert parent.recv() == ("ok", 2)
    parent.send(("close",))
    loop.join(5)
    assert not loop.is_alive()
