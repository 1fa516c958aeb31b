"""Dataset loaders: round trips through the synthetic layouts, frame folders, malformed inputs."""
from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from training.datasets import ClipFrames, DatasetError, load_recola, load_sasefe
from training.synth import SynthConfig, generate, load_truth

TINY = dict(size=(320, 240), fps=10.0, clip_max_s=3.0, progress=False)


@pytest.fixture(scope="module")
def sasefe_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("sasefe")
    return out, generate(SynthConfig(out=out, subjects=2, seed=2, expressions=("anger", "surprise"), **TINY))


def test_sasefe_training_layout_round_trip(sasefe_set):
    root, manifest = sasefe_set
    clips = load_sasefe(root)
    expected = {c["key"]: c for c in manifest["clips"]}
    assert sorted(c.key for c in clips) == sorted(expected)
    for clip in clips:
        m = expected[clip.key]
        assert (clip.subject, clip.expression, clip.label, clip.code) == (m["subject"], m["expression"], m["label"], m["code"])
        assert clip.path == root / m["file"]
        frames = ClipFrames(clip.path)
        assert frames.frame_count == m["frames"] and frames.fps == pytest.approx(10.0)
    assert {c.code for c in clips} == {"N2A", "H2N2A", "N2Sur", "D2N2Sur"}
    assert sum(c.is_fake for c in clips) == 4


def test_sasefe_frame_folders_are_clips(sasefe_set, tmp_path):
    root, manifest = sasefe_set
    video = root / "S001" / "N2A.mp4"
    folder = tmp_path / "S009" / "N2A"
    folder.mkdir(parents=True)
    decoded = list(ClipFrames(video))
    for i, frame in enumerate(decoded):
        cv2.imwrite(str(folder / f"frame{i + 1}.png"), frame)
    (tmp_path / "S009" / "notes.txt").write_text("not a clip")
    (clip,) = load_sasefe(tmp_path)
    assert (clip.key, clip.subject, clip.expression, clip.label) == ("S009_N2A", "S009", "anger", "genuine")
    frames = ClipFrames(clip.path, folder_fps=100.0)
    assert frames.frame_count == len(decoded) and frames.fps == 100.0
    back = list(frames)
    np.testing.assert_array_equal(back[10], decoded[10])  # natural order: frame11 after frame10, not frame2


def test_sasefe_test_layout_round_trip(tmp_path):
    manifest = generate(SynthConfig(out=tmp_path, layout="sasefe-test", subjects=1, seed=3,
                                    expressions=("happiness",), **TINY))
    clips = load_sasefe(tmp_path)
    assert len(clips) == 2 and {c.label for c in clips} == {"genuine", "fake"}
    by_file = {c["file"]: c for c in manifest["clips"]}
    for clip in clips:
        m = by_file[clip.path.name]
        assert clip.expression == "happiness" and clip.label == m["label"] and clip.subject == m["subject"]
        assert clip.path.name.endswith("_HAPPINESS.mp4") and len(clip.key.split("_")[0]) == 10
        assert ClipFrames(clip.path).count_frames() == m["frames"]


def test_recola_round_trip_averages_raters(tmp_path):
    manifest = generate(SynthConfig(out=tmp_path, layout="recola", subjects=2, seed=6, session_s=(5.0, 6.0), **TINY))
    recs = load_recola(tmp_path)
    assert [r.key for r in recs] == ["S001", "S002"] and [r.subject for r in recs] == ["S001", "S002"]
    for rec, m in zip(recs, manifest["clips"]):
        assert rec.raters == ("FM1", "FM2", "FF1")
        assert len(rec.t_s) == m["frames"] == ClipFrames(rec.video).frame_count
        with rec.annotation.open() as fh:
            rows = list(csv.reader(fh))[1:]
        raters = np.array([[float(v) for v in r[1:]] for r in rows])
        np.testing.assert_allclose(rec.valence, raters.mean(1), atol=1e-5)
        truth = load_truth(tmp_path, rec.key).valence
        assert np.abs(rec.valence - truth).mean() < 0.1
        np.testing.assert_allclose(rec.valence_at(rec.t_s), rec.valence, atol=1e-6)


def test_recola_alternative_names_and_separators(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "P16.mp4").write_bytes(b"")
    (tmp_path / "valence").mkdir()
    (tmp_path / "valence" / "P16.csv").write_text("frameTime;valence\n0.00;0.1\n0.04;0.3\n")
    (rec,) = load_recola(tmp_path)
    assert rec.subject == "P16" and rec.raters == ("valence",)
    np.testing.assert_allclose(rec.valence_at([0.02]), [0.2], atol=1e-6)


# -- malformed inputs ----------------------------------------------------------------------------
def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_unknown_code_names_the_file(tmp_path):
    bad = _touch(tmp_path / "S001" / "N2X.mp4")
    _touch(tmp_path / "S001" / "N2A.mp4")
    with pytest.raises(DatasetError, match=r"N2X\.mp4.*not a SASE-FE code.*H2N2A"):
        load_sasefe(tmp_path)
    assert bad.exists()


def test_duplicate_code_and_empty_subject_are_refused(tmp_path):
    _touch(tmp_path / "S001" / "N2A.mp4")
    (tmp_path / "S001" / "n2a").mkdir()
    with pytest.raises(DatasetError, match="appears twice"):
        load_sasefe(tmp_path)
    other = tmp_path / "other"
    (other / "S002").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"S002: subject folder without clips"):
        load_sasefe(other)


def test_test_layout_needs_a_valid_labels_file(tmp_path):
    _touch(tmp_path / "0000000001_ANGER.mp4")
    with pytest.raises(DatasetError, match="without a labels file"):
        load_sasefe(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\n0000000001_ANGER.mp4,maybe\n")
    with pytest.raises(DatasetError, match=r"labels\.csv:2: label 'maybe'"):
        load_sasefe(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\n0000000001_ANGER.mp4,true\n0000000002_ANGER.mp4,fake\n")
    with pytest.raises(DatasetError, match="labels for videos not in"):
        load_sasefe(tmp_path)
    _touch(tmp_path / "0000000003_JOY.mp4")
    with pytest.raises(DatasetError, match=r"0000000003_JOY\.mp4: expected ID_EXPRESSION"):
        load_sasefe(tmp_path)


def test_mixed_or_empty_sasefe_folder(tmp_path):
    with pytest.raises(DatasetError, match="no SASE-FE clips"):
        load_sasefe(tmp_path)
    _touch(tmp_path / "S001" / "N2A.mp4")
    _touch(tmp_path / "0000000001_ANGER.mp4")
    with pytest.raises(DatasetError, match="holds both videos"):
        load_sasefe(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        load_sasefe(tmp_path / "missing")


def test_empty_frame_folder_and_unreadable_video(tmp_path):
    (tmp_path / "frames").mkdir()
    with pytest.raises(DatasetError, match="frame folder holds no images"):
        ClipFrames(tmp_path / "frames")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(DatasetError, match=r"broken\.mp4: OpenCV cannot open"):
        ClipFrames(bad)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty annotation"),
        ("when,FM1\n0,0.1\n", r"first column is 'when'"),
        ("time\n0\n", "no rater columns"),
        ("time,FM1,FM2\n0,0.1\n", r":2: 2 values, expected 3"),
        ("time,FM1\n0,high\n", r":2: non-numeric"),
        ("time,FM1\n0,0.1\n0,0.2\n", "not strictly increasing"),
        ("time,FM1\n0,1.5\n", r"outside \[-1, 1\]"),
    ],
)
def test_malformed_annotation_names_file_and_problem(tmp_path, text, message):
    _touch(tmp_path / "recordings_video" / "R1.mp4")
    ann = tmp_path / "ratings_individual" / "valence" / "R1.csv"
    ann.parent.mkdir(parents=True)
    ann.write_text(text)
    with pytest.raises(DatasetError, match=message) as err:
        load_recola(tmp_path)
    assert "R1.csv" in str(err.value)


def test_recording_without_annotation(tmp_path):
    _touch(tmp_path / "recordings_video" / "R1.mp4")
    with pytest.raises(DatasetError, match=r"R1\.mp4: no valence annotation"):
        load_recola(tmp_path)
    (tmp_path / "subjects.csv").write_text("rec,who\n")
    (tmp_path / "R1.csv").write_text("time,v\n0,0\n")
    with pytest.raises(DatasetError, match=r"subjects\.csv: header"):
        load_recola(tmp_path)


def test_manifest_lists_every_clip_with_parameters(sasefe_set):
    root, manifest = sasefe_set
    on_disk = json.loads((root / "manifest.json").read_text())
    assert on_disk["schema"] == "affectscope.synth/1" and on_disk["synthetic"] is True
    assert {p["name"] for p in on_disk["photos"]} == {"astronaut", "hopper", "coelho"}
    for c in on_disk["clips"]:
        assert (root / c["file"]).is_file() and c["episodes"][-1]["role"] == "target"


def test_subject_lists_that_name_nobody_and_caches_of_the_other_kind_are_named(tmp_path):
    from training.cache import CacheError, read_crop_cache, read_landmark_cache
    from training.subject_lists import known_subjects, subject_names

    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "some.txt").write_text("A\nB\n")
    with pytest.raises(ValueError, match="is empty: nobody is named"):
        known_subjects([f"@{tmp_path / 'empty.txt'}"], ["A", "C"], "held-out")
    # one empty list among others (a share of a small set) is no error
    assert known_subjects([f"@{tmp_path / 'some.txt'}", f"@{tmp_path / 'empty.txt'}"], ["A", "C"], "held-out") == ["A"]
    assert subject_names(["S1,S2", "S3"]) == ["S1", "S2", "S3"] and subject_names("S1") == ["S1"]
    crops = tmp_path / "cache" / "crops"
    crops.mkdir(parents=True)
    (crops / "index.csv").write_text("x\n")
    with pytest.raises(CacheError, match=r"a cache of face-crop clips .*; this needs landmark sequences"):
        read_landmark_cache(tmp_path / "cache")
    with pytest.raises(CacheError, match="no such cache folder"):
        read_crop_cache(tmp_path / "nowhere")
