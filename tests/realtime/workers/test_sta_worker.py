"""The STA worker in the pipeline: a valence every 16 face frames, never blocking perception."""
import numpy as np
import pytest
import torch

from engines.bundle import load_bundle, write_bundle_json
from engines.sta import create_sta, save_sta, sta_section
from realtime.workers.registry import available_models, build_workers
from realtime.pipeline.runner import build_pipeline
from realtime.sessions.folder import read_session, SessionWriter
from realtime.capture.sources import VideoFileSource
from realtime.workers.sta import ValenceWorker


@pytest.fixture(scope="module")
def sta_bundle(tmp_path_factory):
    torch.manual_seed(0)
    model = create_sta("sta_small", clip_length=8, clip_rate_fps=10.0)
    root = tmp_path_factory.mktemp("bundle")
    save_sta(model, root / "sta.safetensors")
    write_bundle_json(root, {
        "name": "tiny-untrained", "trained_on": "nothing: random weights for tests",
        "landmark_normalization": "similarity", "crop_size": 64, "clip_length": 8, "clip_rate_fps": 10.0,
        "sta": sta_section(model, "sta.safetensors"),
    })
    return load_bundle(root)


def test_bundle_with_sta_builds_the_worker(sta_bundle):
    assert available_models(sta_bundle) == {"sta": True, "lstmpb": False}
    workers = build_workers(sta_bundle, backend="eager")
    assert [type(w) for w in workers] == [ValenceWorker]


def test_valence_every_16_face_frames_into_the_session(sta_bundle, clip_file, tmp_path, motion_clip):
    src = VideoFileSource(clip_file)
    pipe = build_pipeline(src, sta_bundle, backend="eager", paced=False)
    writer = SessionWriter(tmp_path / "s", src.info)
    writer.start()
    pipe.subscribe(writer)
    results = []
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(180)
    pipe.shutdown()
    writer.finish()
    worker = pipe.workers[0]
    assert worker.stats.failed == 0 and worker.stats.skipped == 0, pipe.faults()
    updated = [r for r in results if r.valence_updated]
    # clip span at 30 fps and 10 clip/s: 3 frames apart -> 22 frames before the first clip
    assert len(updated) >= 10
    assert all(-1 <= r.valence <= 1 for r in updated)
    gaps = np.diff([r.frame_index for r in updated])
    assert np.median(gaps) == 16
    att = updated[0].attention
    assert att.shape == (64, 64) and np.isclose(att.sum(), 1.0, atol=1e-3)
    s = read_session(tmp_path / "s")
    assert int(np.nansum(s.data["valence_updated"])) == len(updated)
    vals = s.data["valence"][s.data["valence_updated"] == 1]
    np.testing.assert_allclose(vals, [r.valence for r in updated], atol=1e-4)
    assert np.isnan(s.data["valence"][s.data["face"] == 0]).all()
    # each valence says the share of good frames in its clip (an upright face moving smoothly: all)
    assert all(r.valence_quality is not None and r.valence_quality > 0.9 for r in updated)
    np.testing.assert_allclose(s.data["valence_quality"][s.data["valence_updated"] == 1],
                               [r.valence_quality for r in updated], atol=1e-3)


def test_a_window_of_poor_frames_publishes_no_valence(sta_bundle, clip_file):
    """Frames whose fit moved more than the tracker allows are faces, but poor ones: the worker
    does not turn clips of them into a valence. (A negative jump limit makes every frame after a
    track's first one poor.)"""
    from realtime.perception.face_tracker import FaceTracker, TrackerSettings
    from realtime.pipeline.core import Pipeline

    src = VideoFileSource(clip_file)
    tracker = FaceTracker(crop_size=sta_bundle.crop_size, settings=TrackerSettings(max_jump=-1.0))
    pipe = Pipeline(src, tracker, build_workers(sta_bundle, backend="eager"))
    results = []
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(180)
    pipe.shutdown()
    worker = pipe.workers[0]
    faces = [r for r in results if r.face]
    assert len(faces) > 200 and sum(r.good for r in faces) <= 10  # faces, nearly every one poor
    assert all(r.valence is None and r.valence_quality is None for r in results)
    assert worker.stats.poor >= 10 and worker.stats.processed == 0 and worker.stats.failed == 0


def test_mismatched_clip_length_is_refused(sta_bundle, tmp_path, clip_file):
    import json
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(sta_bundle.root, bad)
    meta = json.loads((bad / "bundle.json").read_text())
    meta["clip_length"] = 16
    (bad / "bundle.json").write_text(json.dumps(meta))
    pipe = build_pipeline(VideoFileSource(clip_file), load_bundle(bad), backend="eager", paced=False)
    pipe.start()
    pipe.wait(60)
    pipe.shutdown()
    assert pipe.workers[0].state.value == "faulted"
    assert "clip" in pipe.workers[0].stats.error or "16" in pipe.workers[0].stats.error


@pytest.mark.slow  # about 40 s on 2 cores: a 40-50 s synthetic session generated, then analyzed
def test_shipped_model_follows_the_valence_of_a_synthetic_face_it_never_saw(tmp_path):
    """The default bundle's STA, through the live pipeline, on an identity derived with another seed."""
    from training.datasets.recola import load_recola
    from training.metrics import regression_metrics
    from training.synth import SynthConfig, generate

    manifest = generate(SynthConfig(out=tmp_path / "synth", layout="recola", subjects=3, seed=77,
                                    session_s=(40.0, 50.0), jobs=2, progress=False))
    assert manifest["subjects"][2]["recipe"]["derived"] is True  # not one of the training identities
    rec = next(r for r in load_recola(tmp_path / "synth") if r.subject == "S003")
    bundle = load_bundle()
    assert available_models(bundle)["sta"], "the shipped bundle has a valence model"
    src = VideoFileSource(rec.video)
    pipe = build_pipeline(src, bundle, backend="auto", paced=False)
    results = []
    pipe.subscribe(lambda r, f: results.append(r) if r.valence_updated else None)
    pipe.start()
    assert pipe.wait(300)
    pipe.shutdown()
    assert not pipe.faults()
    times = np.array([r.frame_index for r in results]) / src.info.fps
    truth = rec.valence_at(times)
    m = regression_metrics(truth, np.array([r.valence for r in results]))
    print(f"{len(results)} clips: {m}")
    assert len(results) >= 60 and truth.std() > 0.3
    assert m["ccc"] >= 0.6 and m["cc"] >= 0.7, m
