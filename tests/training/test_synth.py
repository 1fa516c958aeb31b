"""The synthetic expression-video generator: geometry, determinism, detectability, cues, valence."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from engines.expressions import EXPRESSIONS
from training.datasets import ClipFrames
from training.synth import SynthConfig, generate, load_truth
from training.synth.action_units import FIELDS, MIRROR, landmark_displacement, valence_from_aus
from training.synth.cues import cue_strength, onset_time, separation_auc, smile_frown, track_landmarks
from training.synth.expressions import SPECS, draw_episode, sasefe_episodes, session_episodes
from training.synth.identities import BUILTIN_PHOTOS, IdentityError, base_identity
from training.synth.render import valence_track
from training.synth.timeline import add_intensities
from training.synth.warp import FaceWarper

SMALL = dict(size=(400, 300), fps=15.0, progress=False)


def test_au_fields_are_mirror_images_for_symmetric_intensity():
    for au, (left, right) in FIELDS.items():
        both = left + right
        mirrored = both[MIRROR] * np.array([-1.0, 1.0], np.float32)
        np.testing.assert_allclose(both, mirrored, atol=1e-6, err_msg=f"AU{au}")
    one_sided = landmark_displacement({12: (1.0, 0.0)})
    assert np.abs(one_sided[48]).sum() > 0 and np.abs(one_sided[54]).sum() == 0


def test_valence_signs_follow_the_action_units():
    assert valence_from_aus({12: 1.0, 6: 1.0}) > 0.7
    for au in (4, 15, 9, 10):
        assert valence_from_aus({au: 1.0}) < -0.3
    assert valence_from_aus({}) == 0.0
    assert -1.0 <= valence_from_aus({4: 5.0, 15: 5.0}) <= 1.0


@pytest.mark.parametrize("kind", ["mesh", "tps"])
def test_warp_carries_image_content_with_the_landmarks(kind):
    identity = base_identity(BUILTIN_PHOTOS[1], (500, 400), 80.0)
    image = identity.image.copy()
    pts = identity.landmarks.copy()
    pts[48] = np.round(pts[48])
    image[:] = 128
    x, y = pts[48].astype(int)  # a marker on the left lip corner
    image[y - 1:y + 2, x - 1:x + 2] = (0, 0, 255)
    disp = np.zeros((68, 2), np.float32)
    disp[48:68] = (-9.0, -6.0)  # the mouth moves as one (a TPS spreads a lone point's move over its neighbours)
    out = FaceWarper(image, pts, kind=kind).warp(disp)
    red = np.argwhere((out[..., 2] > 200) & (out[..., 1] < 60))
    cy, cx = red.mean(0)
    assert abs(cx - (x - 9)) < 1.5 and abs(cy - (y - 6)) < 1.5
    far = np.zeros_like(out[:40])
    far[:] = 128
    np.testing.assert_array_equal(out[:40], far)  # the frame border does not move


def test_a_thin_plate_warp_holds_when_two_landmarks_coincide():
    """A closed mouth's fit can put inner lip points 62 and 66 on one spot: the spline's system was
    singular there and the generator stopped (a real photo set's neutral face)."""
    identity = base_identity(BUILTIN_PHOTOS[1], (500, 400), 80.0)
    pts = identity.landmarks.copy()
    pts[62] = pts[66]
    disp = np.zeros((68, 2), np.float32)
    disp[48:68] = (0.0, 3.0)
    exact = FaceWarper(identity.image, identity.landmarks, kind="tps").warp(disp)
    out = FaceWarper(identity.image, pts, kind="tps").warp(disp)
    assert out.shape == exact.shape
    assert np.abs(out.astype(int) - exact).mean() < 1.0  # about the same warp


def test_episode_timing_follows_the_literature():
    rng = np.random.default_rng(0)
    genuine = [draw_episode("happiness", "genuine", 1.0, rng) for _ in range(200)]
    fake = [draw_episode("happiness", "fake", 1.0, rng) for _ in range(200)]
    assert all(0.4 <= e.onset <= 1.5 and e.smooth_onset and e.smooth_offset for e in genuine)
    assert np.mean([e.onset < 0.3 for e in fake]) > 0.75 and max(e.offset for e in fake) < 0.35
    assert np.median([e.apex for e in fake]) > np.median([e.apex for e in genuine])
    asym = lambda e: min(min(v) / max(v) for v in e.aus.values())  # noqa: E731
    assert np.median([asym(e) for e in fake]) < np.median([asym(e) for e in genuine])
    # the reliable muscle overlaps between classes but is stronger when genuine
    au6 = lambda eps: np.array([np.mean(e.aus.get(6, (0.0, 0.0))) for e in eps])  # noqa: E731
    assert au6(genuine).min() < au6(fake).max() and np.median(au6(genuine)) > 2 * np.median(au6(fake))


def test_fake_clip_has_a_lead_in_then_neutral_before_the_target():
    episodes, duration, neutral = sasefe_episodes("anger", "fake", np.random.default_rng(3))
    lead, target = episodes
    assert lead.role == "lead-in" and lead.expression == "happiness" and target.expression == "anger"
    assert lead.end <= neutral[0] < neutral[1] <= target.start < duration <= 5.0


@pytest.fixture(scope="module")
def one_per_identity(tmp_path_factory):
    """Six subjects (three photos, three derived identities), two clips each."""
    out = tmp_path_factory.mktemp("synth_ids")
    manifest = generate(SynthConfig(out=out, subjects=6, seed=11, expressions=("surprise",), clip_max_s=3.0, **SMALL))
    return out, manifest


def test_generation_is_deterministic_and_writes_the_manifest(tmp_path, one_per_identity):
    root, manifest = one_per_identity
    again = generate(SynthConfig(out=tmp_path, subjects=1, seed=11, expressions=("surprise",), clip_max_s=3.0, **SMALL))
    first = [c for c in manifest["clips"] if c["subject"] == "S001"]
    assert [json.dumps(c, sort_keys=True) for c in first] == [json.dumps(c, sort_keys=True) for c in again["clips"]]
    for c in first:
        np.testing.assert_array_equal(load_truth(root, c["key"]).landmarks, load_truth(tmp_path, c["key"]).landmarks)
    assert manifest["synthetic"] is True and len(manifest["clips"]) == 12
    on_disk = json.loads((root / "manifest.json").read_text())
    assert on_disk["clips"][0]["episodes"] and {"onset", "apex", "offset", "aus"} <= set(on_disk["clips"][0]["episodes"][-1])
    assert (root / "manifest.csv").read_text().splitlines()[0].startswith("key,file,subject,identity,expression,label")
    identities = [s["identity"] for s in manifest["subjects"]]
    assert identities == ["astronaut", "hopper", "coelho", "astronaut-v1", "hopper-v1", "coelho-v1"]


def test_face_tracker_finds_the_face_on_every_identity(one_per_identity):
    """One clip per identity (the fake one: lead-in expression, neutral, posed expression)."""
    root, manifest = one_per_identity
    from realtime.perception.face_tracker import FaceTracker

    tracker = FaceTracker()
    found: dict[str, list[int]] = {}
    for c in (c for c in manifest["clips"] if c["label"] == "fake"):
        seq = track_landmarks(ClipFrames(root / c["file"]), tracker)
        face = np.isfinite(seq[:, 0, 0])
        found.setdefault(c["identity"], []).extend(face.tolist())
        # read-back landmarks sit on the true ones (pixels, 400 x 300 frames)
        truth = load_truth(root, c["key"]).landmarks
        err = np.nanmedian(np.linalg.norm(seq - truth, axis=-1))
        assert err < 5.0, (c["key"], err)
    rates = {k: float(np.mean(v)) for k, v in found.items()}
    assert len(rates) == 6 and min(rates.values()) >= 0.99, rates


def test_style_b_renders_the_same_cues_another_way(tmp_path, one_per_identity):
    """Style b: a thin-plate spline warp, scaled AU fields, other ramps and timing, blur and JPEG;
    the face is still found and its landmarks read back where the truth puts them."""
    root, manifest = one_per_identity
    cfg = dict(seed=11, expressions=("surprise",), clip_max_s=3.0, **SMALL)
    b = generate(SynthConfig(out=tmp_path / "b", subjects=2, style="b", only_subjects=("S002",), **cfg))
    assert b["style"] == "b" and {c["subject"] for c in b["clips"]} == {"S002"}
    assert [s["subject"] for s in b["subjects"]] == ["S002"]
    split = next(s["split"] for s in b["subjects"])
    assert (tmp_path / "b" / f"split_{split}.txt").read_text().split() == ["S002"]
    from realtime.perception.face_tracker import FaceTracker

    tracker = FaceTracker()
    for c in b["clips"]:
        r = c["rendering"]
        assert 30 <= r["jpeg_quality"] <= 70 and 0.4 <= r["blur_sigma"] <= 1.1
        assert all(0.6 <= v <= 1.5 for v in r["au_scale"].values()) and {e["curves"] for e in c["episodes"]} == {"quintic"}
        a_clip = next(x for x in manifest["clips"] if x["key"] == c["key"])
        assert "rendering" not in a_clip and a_clip["episodes"][-1]["curves"] == "cosine"
        seq = track_landmarks(ClipFrames(tmp_path / "b" / c["file"]), tracker)
        truth = load_truth(tmp_path / "b", c["key"]).landmarks
        assert np.isfinite(seq[:, 0, 0]).mean() >= 0.99
        assert np.nanmedian(np.linalg.norm(seq - truth, axis=-1)) < 5.0
    with pytest.raises(ValueError, match=r"not among the 2 generated"):
        generate(SynthConfig(out=tmp_path / "c", subjects=2, only_subjects=("S009",), **cfg))


def test_session_valence_follows_a_smile_frown_measure(tmp_path):
    manifest = generate(SynthConfig(out=tmp_path, layout="recola", subjects=1, seed=4, session_s=(24.0, 24.0),
                                    size=(400, 300), fps=10.0, progress=False))
    clip = manifest["clips"][0]
    truth = load_truth(tmp_path, clip["key"])
    seq = track_landmarks(ClipFrames(tmp_path / clip["file"]))
    assert np.isfinite(seq[:, 0, 0]).mean() >= 0.99
    measure = smile_frown(seq)
    ok = np.isfinite(measure)
    assert truth.valence.min() < -0.2 or truth.valence.max() > 0.2  # the session has expressions
    r = np.corrcoef(truth.valence[ok], measure[ok])[0, 1]
    assert r > 0.5, r


def session_tracks(k: int, t: np.ndarray) -> dict[int, np.ndarray]:
    """AU intensity tracks of the k-th drawn session, sampled at times ``t``."""
    tracks: dict[int, np.ndarray] = {}
    for ep in session_episodes(float(t[-1]), np.random.default_rng([0, k])):
        add_intensities(tracks, ep.intensities(t))
    return tracks


def test_session_valence_is_clearly_visible():
    """Strong valence is common in a session and comes with a clear mouth-corner movement."""
    t = np.arange(0.0, 40.0, 0.2)
    valence, corner = [], []
    for k in range(12):
        tracks = session_tracks(k, t)
        valence.append(valence_track(tracks))
        for i in range(len(t)):
            d = landmark_displacement({au: tuple(v[i]) for au, v in tracks.items()})
            corner.append(np.linalg.norm(d[[48, 54]], axis=-1).mean())  # interocular units
    valence, corner = np.concatenate(valence), np.array(corner)
    strong = np.abs(valence) > 0.3
    assert strong.mean() > 0.3, strong.mean()
    assert np.median(corner[strong]) > 0.06, np.median(corner[strong])


def test_session_valence_moves_on_the_time_scale_of_a_clip():
    """The rating at a clip's last frame goes with the clip as a whole (16 crops at 4 fps), as the slow
    ratings of real recordings do; a rating that flipped within every clip could not be learned from it."""
    t = np.arange(0.0, 45.0, 0.25)
    last, clip_mean = [], []
    for k in range(16):
        v = valence_track(session_tracks(k, t))
        for end in range(15, len(t), 2):
            last.append(v[end])
            clip_mean.append(v[end - 15:end + 1].mean())
    r = np.corrcoef(last, clip_mean)[0, 1]
    assert r > 0.7, r


def test_sessions_use_only_faces_at_rest(tmp_path):
    """A session's valence is 0 at rest, so a photo that already smiles cannot be a session's face."""
    session_faces = [p.name for p in SynthConfig(out=tmp_path, layout="recola").photos()]
    assert session_faces == [p.name for p in BUILTIN_PHOTOS if p.at_rest] == ["hopper", "coelho"]
    assert len(SynthConfig(out=tmp_path, layout="sasefe").photos()) == len(BUILTIN_PHOTOS)


# -- cue separability on read-back landmarks (slow: ~200 clips through FaceTracker) ----------------
@pytest.fixture(scope="module", params=["a", "b"])
def cue_set(request, tmp_path_factory):
    """Both generator styles hold the cues: the same separability, rendered differently."""
    out = tmp_path_factory.mktemp("synth_cues")
    manifest = generate(SynthConfig(out=out, subjects=16, seed=5, jobs=2, style=request.param, **SMALL))
    from realtime.perception.face_tracker import FaceTracker

    tracker = FaceTracker()
    rows = []
    for c in manifest["clips"]:
        seq = track_landmarks(ClipFrames(out / c["file"]), tracker)
        target = [e for e in c["episodes"] if e["role"] == "target"][0]
        strength = cue_strength(c["expression"], seq, c["fps"], c["neutral_s"], c["apex_s"])
        rise = onset_time(seq, c["fps"], c["neutral_s"], target["start"], c["apex_s"])
        rows.append((c["expression"], c["label"], strength, rise))
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_main_cue_separates_genuine_from_fake_but_not_perfectly(cue_set, expression):
    g = [s for e, lab, s, _ in cue_set if e == expression and lab == "genuine"]
    f = [s for e, lab, s, _ in cue_set if e == expression and lab == "fake"]
    auc = separation_auc(g, f)
    print(f"{expression}: AUC {auc:.3f} (reliable AUs {SPECS[expression].reliable})")
    # not perfectly: the cue ranges overlap by design, so some pairs of the 16 x 16 are ordered wrongly
    # (the read-back landmarks are precise enough that as few as 2 of 256 are). The read-back moves
    # each AUC by about 0.01 with the tracker's settings (Haar's pyramid step 1.15 -> 1.2: style b's
    # contentment 0.809 -> 0.797, sadness 0.980 -> 0.992), so the bounds leave that much room.
    assert 0.75 <= auc < 1.0, auc


@pytest.mark.slow
def test_onset_is_faster_when_fake(cue_set):
    g = np.array([r for _, lab, _, r in cue_set if lab == "genuine"])
    f = np.array([r for _, lab, _, r in cue_set if lab == "fake"])
    assert np.nanmedian(g) > 0.4 and np.nanmedian(f) < 0.35 and np.nanmedian(g) > 1.5 * np.nanmedian(f)
    assert separation_auc(g, f) > 0.75  # onset ranges overlap by design (genuine from 0.4 s, 15 % of fakes > 0.3 s)


def test_frame_noise_and_compression_are_present(one_per_identity):
    root, manifest = one_per_identity
    frames = list(ClipFrames(root / manifest["clips"][0]["file"]))
    assert frames[0].shape == (300, 400, 3) and len(frames) == manifest["clips"][0]["frames"]
    # consecutive neutral frames differ (sensor noise, lighting drift) though the face is still
    diff = cv2.absdiff(frames[0], frames[1]).astype(np.float32)
    assert 0.5 < diff.mean() < 12.0


def test_user_photos_become_identities(tmp_path):
    photo = cv2.imread(str(BUILTIN_PHOTOS[1].path))
    user = tmp_path / "visitor.png"
    cv2.imwrite(str(user), cv2.resize(photo, None, fx=0.8, fy=0.8))
    manifest = generate(SynthConfig(out=tmp_path / "out", subjects=2, seed=1, faces=[user], builtin_faces=False,
                                    expressions=("contentment",), labels=("genuine",), clip_max_s=2.0, **SMALL))
    assert [s["identity"] for s in manifest["subjects"]] == ["visitor", "visitor-v1"]
    assert manifest["subjects"][1]["recipe"]["derived"] is True
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    with pytest.raises(IdentityError, match=r"wall: dlib found no frontal face"):
        generate(SynthConfig(out=tmp_path / "bad", subjects=1, faces=[blank], builtin_faces=False, **SMALL))


def test_an_interrupted_generation_leaves_no_cut_clip(tmp_path, monkeypatch):
    """Clips are written under a temporary name and renamed once whole: a run stopped mid-clip
    leaves nothing that would pass for a finished clip; a finished run leaves no temporary file."""
    import training.synth.render as render

    calls = {"n": 0}
    real = render.degrade

    def stop_at_frame_20(frame, rendering):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return real(frame, rendering)

    monkeypatch.setattr(render, "degrade", stop_at_frame_20)
    with pytest.raises(KeyboardInterrupt):
        generate(SynthConfig(out=tmp_path / "cut", subjects=1, seed=11, expressions=("surprise",), clip_max_s=3.0,
                             **SMALL))
    assert not list((tmp_path / "cut").rglob("*.mp4"))
    monkeypatch.setattr(render, "degrade", real)
    generate(SynthConfig(out=tmp_path / "whole", subjects=1, seed=11, expressions=("surprise",), clip_max_s=3.0,
                         **SMALL))
    clips = list((tmp_path / "whole").rglob("*.mp4"))
    assert clips and not [c for c in clips if ".partial" in c.name]


def test_an_empty_share_of_the_split_is_said():
    from training.datasets.photos import empty_split_note

    assert empty_split_note({"train": 5, "dev": 1, "test": 1}) is None
    note = empty_split_note({"train": 0, "dev": 2, "test": 1})
    assert "train share" in note and "--holdout" in note
