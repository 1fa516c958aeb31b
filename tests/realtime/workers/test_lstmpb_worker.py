"""The LSTM-PB worker in the pipeline: P(fake) and the PB vector on every face row once warm."""
import os
import sys

import numpy as np
import pytest
import torch

from engines.bundle import load_bundle
from engines.lstmpb import LSTMPB, LSTMPBConfig
from engines.online_pb import RecognizerSettings
from engines.pb_classifier import PBClassifier, XGBSettings
from realtime.concurrency.priority import background_nice
from realtime.workers.lstmpb import FakeExpressionWorker
from realtime.workers.registry import available_models, build_workers
from realtime.pipeline.runner import build_pipeline
from realtime.capture.sources import LoopingVideoSource, VideoFileSource
from training.train_xgb import write_lstmpb_bundle


@pytest.fixture(scope="module")
def pb_bundle(tmp_path_factory):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = LSTMPB(LSTMPBConfig(hidden=16, layers=2))
    X = rng.normal(0, 0.1, (80, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    subjects = [f"s{i % 8}" for i in range(80)]
    settings = XGBSettings(max_rounds=30, early_stopping_rounds=10, nfold=4)
    classifiers = {name: PBClassifier(settings).fit(X, y, subjects) for name in ("pooled", "happiness")}
    root = tmp_path_factory.mktemp("pb_bundle")
    write_lstmpb_bundle(root, model, {"happiness/genuine": torch.zeros(64), "happiness/fake": torch.ones(64) * 0.1},
                        classifiers, RecognizerSettings(window=16, every=4, iters=1, min_frames=8),
                        base_meta={"name": "tiny-untrained", "trained_on": "random PBs, for tests",
                                   "landmark_normalization": "similarity", "crop_size": 64,
                                   "clip_length": 16, "clip_rate_fps": 4.0})
    return load_bundle(root)


def test_bundle_with_lstmpb_builds_the_worker(pb_bundle):
    assert available_models(pb_bundle) == {"sta": False, "lstmpb": True}
    assert [type(w) for w in build_workers(pb_bundle, "happiness")] == [FakeExpressionWorker]
    with pytest.raises(ValueError, match="expression model"):
        build_workers(pb_bundle, "joy")


def test_p_fake_and_pb_on_face_rows(pb_bundle, clip_file, motion_clip):
    results = []
    pipe = build_pipeline(VideoFileSource(clip_file), pb_bundle, "pooled", paced=False)
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(180)
    pipe.shutdown()
    w = pipe.workers[0]
    assert w.stats.failed == 0, pipe.faults()
    assert w.stats.processed >= 40 and w.stats.skipped == 0
    with_p = [r for r in results if r.p_fake is not None]
    assert len(with_p) >= 200
    assert all(0.0 <= r.p_fake <= 1.0 and r.pb.shape == (64,) for r in with_p)
    assert all(r.face for r in with_p)
    # the PB moves with the landmark stream
    pbs = np.array([r.pb for r in with_p])
    assert np.abs(np.diff(pbs, axis=0)).sum() > 0
    # after the face is lost the recognizer starts over: no P(fake) on the first frames back
    back = int(np.flatnonzero(motion_clip.absent)[-1]) + 1
    first_face_back = next(r for r in results[back:] if r.face)
    assert first_face_back.p_fake is None


@pytest.mark.parametrize("live", [False, True], ids=["offline", "live (recognizer process)"])
def test_unknown_expression_classifier_faults_with_reason(pb_bundle, clip_file, live):
    source = LoopingVideoSource(clip_file, live=True) if live else VideoFileSource(clip_file)
    pipe = build_pipeline(source, pb_bundle, "anger", paced=live)
    pipe.start()
    if live:  # a looping source does not end: wait for the worker's fault
        pipe.workers[0].wait_ready(120)
    else:
        pipe.wait(60)
    pipe.shutdown()
    assert pipe.workers[0].state.value == "faulted"
    assert "anger" in pipe.workers[0].stats.error


# -- the recognizer's own process (live runs) ----------------------------------------------------

needs_process = pytest.mark.skipif(not __import__("realtime.workers.recognizer_process",
                                                  fromlist=["AVAILABLE"]).AVAILABLE,
                                   reason="the recognizer process needs a POSIX system")


@needs_process
def test_recognizer_process_answers_as_the_local_recognizer(pb_bundle):
    from realtime.workers.recognizer_process import LocalRecognizer, RecognizerProcess

    vecs = np.random.default_rng(3).normal(0, 0.05, (70, 80)).astype(np.float32)
    local, remote = LocalRecognizer(pb_bundle, "pooled"), RecognizerProcess(pb_bundle.root, "pooled")
    try:
        assert remote.expressions == local.expressions == ["happiness", "pooled"]
        assert remote.frames_per_update == local.frames_per_update
        assert remote.feed(vecs[:5]) == (None, None)  # too few frames for an update yet
        assert local.feed(vecs[:5]) == (None, None)
        for chunk in np.array_split(vecs[5:], 5):
            (p_l, pb_l), (p_r, pb_r) = local.feed(chunk), remote.feed(chunk)
            assert p_r == pytest.approx(p_l, abs=1e-6)
            np.testing.assert_allclose(pb_r, pb_l, atol=1e-6)
        for r in (local, remote):
            r.set_expression_model("happiness")  # starts over
            assert r.feed(vecs[:5]) == (None, None)
        # the process runs as background work, below the window and perception
        if sys.platform.startswith("linux"):
            assert os.getpriority(os.PRIO_PROCESS, remote._proc.pid) == min(19, os.nice(0) + background_nice())
    finally:
        remote.close()
    assert remote._proc.poll() == 0


@needs_process
def test_recognizer_process_that_cannot_load_says_why(tmp_path):
    from realtime.workers.recognizer_process import RecognizerProcess, RecognizerProcessError

    with pytest.raises(RecognizerProcessError, match="could not start.*bundle"):
        RecognizerProcess(tmp_path / "nowhere", "pooled")


@needs_process
def test_the_next_spare_starts_when_the_run_that_took_the_last_one_ends(pb_bundle):
    """A run takes the spare and starts no other while it goes on (a spare's imports would compete
    with the live run); when its recognizer closes, the next spare starts."""
    import threading

    from realtime.workers import recognizer_process as rp

    threads = {t.name for t in threading.enumerate()}
    rp.keep_spare()
    spare_pid = rp._SPARE[0][0].pid
    remote = rp.RecognizerProcess(pb_bundle.root, "pooled")
    try:
        assert remote.pid == spare_pid and not rp._SPARE and rp._SPARE_OWED
        remote.feed(np.zeros((40, 80), np.float32))
        assert not rp._SPARE  # none while the run goes on
    finally:
        remote.close()
    try:
        assert rp._SPARE and rp._SPARE[0][0].pid != spare_pid and not rp._SPARE_OWED
        assert {t.name for t in threading.enumerate()} == threads  # no thread left behind
        proc, conn = rp._SPARE.pop()  # without a spare, a run starts its own child and owes none
        conn.close()
        proc.wait(30)
        own = rp.RecognizerProcess(pb_bundle.root, "pooled")
        own.close()
        assert not rp._SPARE
    finally:
        with rp._SPARE_LOCK:
            for proc, conn in rp._SPARE:
                conn.close()
                proc.wait(30)
            rp._SPARE.clear()


@needs_process
def test_live_worker_runs_the_recognizer_in_its_process_and_faults_when_it_ends(pb_bundle, clip_file):
    import os
    import signal
    import time

    pipe = build_pipeline(LoopingVideoSource(clip_file, live=True), pb_bundle, "pooled", paced=True)
    results = []
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    try:
        w = pipe.workers[0]
        assert w.wait_ready(120)
        assert "process" in w.backend_in_use
        pid = w._recognizer.pid
        deadline = time.monotonic() + 60
        while not any(r.p_fake is not None for r in results) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(r.p_fake is not None for r in results), "no P(fake) from the recognizer's process"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while w.state.value != "faulted" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w.state.value == "faulted"
        assert "recognizer process ended" in w.stats.error
    finally:
        pipe.shutdown()


@needs_process
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice levels are per thread on Linux only")
def test_a_recognizer_started_from_a_background_thread_is_lowered_once():
    """A spare is started when a run's recognizer closes, on the run's background thread: the child
    inherits that thread's lower level and must not go lower again."""
    import threading

    from realtime.concurrency.priority import background_nice, lower_this_thread
    from realtime.workers import recognizer_process as rp

    started = []

    def spawn():
        lower_this_thread()
        started.append(rp._spawn())

    t = threading.Thread(target=spawn)
    t.start()
    t.join()
    proc, conn = started[0]
    try:
        conn.send(("reset",))  # answered once the child serves, after it has set its own level
        assert conn.poll(60)
        conn.recv()
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, os.nice(0) + background_nice())
    finally:
        conn.close()
        proc.wait(30)
