"""Labelled photographs: loader, person-wise split, photos as clips, identities for the generator.

Photo sets here are made by the tests from the bundled face photographs (cropped tight and turned
grey like the small photos of public expression sets); no dataset is read from outside the repo.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.perception.face_tracker import FaceTracker
from training.datasets.photos import (CATEGORY_VALENCE, SPLIT_SHARES, SPLITS, DatasetError, is_photo_set,
                                      load_photos, person_from_filename, person_split)
from training.photo_clips import PhotoClipSettings, photo_clip, read_photo
from training.synth import SynthConfig, generate
from training.synth.identities import BUILTIN_PHOTOS, photo_landmarks, rest_fit_problem


def tight_grey_crop(photo_index: int, side: int = 150) -> np.ndarray:
    """A bundled photo cut at the brows and chin and turned grey, as in FER-style sets."""
    image = BUILTIN_PHOTOS[photo_index].load()
    pts = photo_landmarks(image)
    left, right = pts[36:42].mean(0), pts[42:48].mean(0)  # level the eyes, as sets align their photos
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    m = cv2.getRotationMatrix2D(tuple(map(float, (left + right) / 2)), angle, 1.0)
    image = cv2.warpAffine(image, m, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    pts = pts @ m[:, :2].T + m[:, 2]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    cx, top = 0.5 * (x0 + x1), pts[17:27, 1].min()
    half = 0.55 * (x1 - x0)
    crop = image[int(top):int(y1 + 0.05 * (y1 - top)), int(cx - half):int(cx + half)]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return cv2.resize(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), (side, side), interpolation=cv2.INTER_AREA)


def write_set(root: Path, rows: list[tuple[str, np.ndarray, str, str]]) -> Path:
    (root / "images").mkdir(parents=True)
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "emotion", "person"])
        for name, image, emotion, person in rows:
            cv2.imwrite(str(root / "images" / name), image)
            w.writerow([name, emotion, person])
    return root


@pytest.fixture(scope="module")
def crops() -> dict[str, np.ndarray]:
    return {"hopper": tight_grey_crop(1), "coelho": tight_grey_crop(2), "astronaut": tight_grey_crop(0)}


@pytest.fixture()
def photo_set(tmp_path, crops) -> Path:
    return write_set(tmp_path / "set", [
        ("hopper_1.jpg", crops["hopper"], "NEUTRAL", "Grace_Hopper"),
        ("coelho_1.jpg", crops["coelho"], "neutral", "Luis_Coelho"),
        ("astro_1.jpg", crops["astronaut"], "Happy", "Eileen_Collins"),
        ("hopper_2.jpg", cv2.flip(crops["hopper"], 1), "sad", "Grace_Hopper"),
    ])


def test_labels_csv_maps_categories_and_keeps_people(photo_set):
    photos = load_photos(photo_set)
    assert is_photo_set(photo_set) and len(photos) == 4
    by_name = {p.path.name: p for p in photos}
    assert by_name["astro_1.jpg"].emotion == "happiness" and by_name["astro_1.jpg"].valence == 0.7
    assert by_name["hopper_2.jpg"].emotion == "sadness" and by_name["hopper_2.jpg"].valence < -0.5
    assert by_name["hopper_1.jpg"].emotion == "neutral" and by_name["hopper_1.jpg"].valence == 0.0
    assert {p.person for p in photos} == {"Grace_Hopper", "Luis_Coelho", "Eileen_Collins"}


def test_bad_labels_name_the_row_and_what_to_do(tmp_path, crops):
    root = write_set(tmp_path / "bad", [("a.jpg", crops["hopper"], "bored", "x")])
    with pytest.raises(DatasetError, match=r"labels.csv:2: expression category 'bored'"):
        load_photos(root)
    (root / "images" / "a.jpg").unlink()
    with pytest.raises(DatasetError, match="not found"):
        load_photos(root)
    with pytest.raises(DatasetError, match="photo folder not found"):
        load_photos(tmp_path / "nowhere")


def test_emotion_folder_layout_takes_the_person_from_the_file_name(tmp_path, crops):
    for folder, name in (("happy", "Jane_Doe_0001.jpg"), ("happy", "Jane_Doe_0002.jpg"), ("Angry", "Bob-7.png")):
        (tmp_path / folder).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / folder / name), crops["hopper"])
    (tmp_path / "notes").mkdir()  # a folder without images is not a category
    photos = load_photos(tmp_path)
    assert is_photo_set(tmp_path)
    assert [(p.emotion, p.person) for p in photos] == [("anger", "Bob"), ("happiness", "Jane_Doe"),
                                                      ("happiness", "Jane_Doe")]
    assert person_from_filename(Path("0001.jpg")) == "0001"


def test_split_is_by_person_stable_and_in_proportion():
    people = [f"person_{i}" for i in range(3000)]
    splits = [person_split(p) for p in people]
    assert splits == [person_split(p) for p in people]  # a hash, not a random draw
    shares = [splits.count(s) / len(splits) for s in SPLITS]
    np.testing.assert_allclose(shares, SPLIT_SHARES, atol=0.03)
    assert set(CATEGORY_VALENCE) >= {"happiness", "neutral", "sadness", "anger", "disgust"}


def test_photo_clip_finds_the_face_on_every_frame_and_moves(crops):
    tracker = FaceTracker(crop_size=64)
    clip, face = photo_clip(crops["hopper"], tracker, np.random.default_rng(5))
    assert clip.shape == (16, 64, 64, 3) and clip.dtype == np.uint8 and face.all()
    # head motion and noise: consecutive crops differ, but all show the same face
    diffs = [np.abs(clip[i + 1].astype(int) - clip[i]).mean() for i in range(15)]
    assert min(diffs) > 0.5 and max(diffs) < 40
    again, _ = photo_clip(crops["hopper"], tracker, np.random.default_rng(5))
    np.testing.assert_array_equal(clip, again)  # seeded: a cache can be rebuilt exactly


def test_photo_clips_are_read_with_a_tracker_told_a_face_is_in_view(crops, monkeypatch):
    """A photo's face is found in its expression, not first at rest: the live checks on a new
    detection (looking at the camera, seen by HOG too) are off for photos. Here HOG is made to
    miss the face: the live tracker then reports none, the photo tracker the face on every frame."""
    from training.photo_clips import photo_tracker

    monkeypatch.setattr(FaceTracker, "_verify", lambda self, gray, face: False)
    live = FaceTracker(crop_size=64)
    _, face = photo_clip(crops["hopper"], live, np.random.default_rng(5))
    assert not face.any()
    tracker = photo_tracker("similarity", 64)
    assert tracker.s.face_in_view and tracker.crop_size == 64
    _, face = photo_clip(crops["hopper"], tracker, np.random.default_rng(5))
    assert face.all()


def test_read_photo_names_a_bad_file(tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="not a readable image"):
        read_photo(bad)


def test_faces_at_rest_are_told_from_unusable_fits(crops):
    hopper = BUILTIN_PHOTOS[1].load()
    pts = photo_landmarks(hopper)
    assert rest_fit_problem(pts) is None
    assert "mouth open" in rest_fit_problem(photo_landmarks(BUILTIN_PHOTOS[0].load()))  # a broad smile
    h, w = hopper.shape[:2]
    tilted = cv2.warpAffine(hopper, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    assert "roll" in rest_fit_problem(photo_landmarks(tilted))
    assert "interocular" in rest_fit_problem(pts * 0.2)
    # a tight crop is found once padded
    assert rest_fit_problem(photo_landmarks(crops["hopper"], pad=0.3), min_iod_px=20) is None


def test_synth_draws_identities_from_a_photo_set_and_names_subjects_after_people(tmp_path, crops):
    photo_set = write_set(tmp_path / "set", [
        ("a.jpg", crops["hopper"], "neutral", "Person_A"),
        ("b.jpg", cv2.flip(crops["hopper"], 1), "neutral", "Person_B"),
        ("c.jpg", crops["coelho"], "neutral", "Person_C"),  # head turned: no sound face at rest
        ("d.jpg", crops["astronaut"], "happy", "Person_D"),  # not neutral
    ])
    out = tmp_path / "synth"
    manifest = generate(SynthConfig(out=out, layout="recola", subjects=2, seed=3, builtin_faces=False,
                                    faces_from=photo_set, size=(320, 240), fps=10.0, session_s=(3.0, 3.5),
                                    progress=False))
    subjects = sorted(s["subject"] for s in manifest["subjects"])
    assert subjects == ["Person_A", "Person_B"]
    assert sorted(p.stem for p in (out / "recordings_video").glob("*.mp4")) == subjects
    photos = [p["name"] for p in json.loads((out / "manifest.json").read_text())["photos"]]
    assert sorted(photos) == subjects
    with pytest.raises(ValueError, match="2 neutral photos with a sound landmark fit, 3 needed"):
        SynthConfig(out=out, layout="recola", subjects=3, builtin_faces=False, faces_from=photo_set).photos()


def test_evaluate_scores_a_photo_set_per_category_through_the_live_crops(tmp_path, crops, capsys):
    from realtime.cli import main

    blank = np.full((150, 150, 3), 128, np.uint8)  # no face: counted, not scored
    root = write_set(tmp_path / "set", [
        ("a.jpg", crops["astronaut"], "happy", "Person_A"),
        ("b.jpg", crops["hopper"], "neutral", "Person_B"),
        ("c.jpg", cv2.flip(crops["hopper"], 1), "sadness", "Person_C"),
        ("d.jpg", blank, "anger", "Person_D"),
    ])
    out = tmp_path / "eval.json"
    bundle = str(Path(__file__).resolve().parents[2] / "engines" / "bundles" / "default")
    assert main(["evaluate", bundle, str(root), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valence on photos" in printed and "AUC happy vs negative" in printed
    r = json.loads(out.read_text())["valence_photos"]
    assert (r["photos"], r["scored"], r["face_lost"], r["people"]) == (4, 3, 1, 4)
    cat = r["per_category"]
    assert cat["anger"] == {"photos": 1, "scored": 0, "mean": None, "std": None, "target": -0.5}
    assert cat["happiness"]["scored"] == 1 and -1.5 < cat["happiness"]["mean"] < 1.5
    assert r["auc"]["happy_vs_neutral"]["auc"] in (0.0, 1.0)  # one clip each
    assert r["auc"]["happy_vs_negative"]["negative"] == 1  # the faceless anger photo is not scored
    assert len(r["auc"]["neutral_vs_negative"]["ci95"]) == 2
    assert [p["valence"] is None for p in r["per_photo"]] == [False, False, False, True]
    # a split keeps only its people (by the hash of their names: A-C train, D test, nobody dev)
    assert [person_split(p) for p in ("Person_A", "Person_B", "Person_C", "Person_D")] == ["train"] * 3 + ["test"]
    assert main(["evaluate", bundle, str(root), "--split", "test", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["valence_photos"]["photos"] == 1
    capsys.readouterr()
    assert main(["evaluate", bundle, str(root), "--split", "dev"]) != 0
    assert "no photo of people in split 'dev'" in capsys.readouterr().err
    # a report that could not be written is refused before the work, in the command line's words
    assert main(["evaluate", bundle, str(root), "--json", str(tmp_path / "nowhere" / "eval.json")]) != 0
    assert f"{tmp_path / 'nowhere'} is not a folder (it does not exist)" in capsys.readouterr().err


def test_preprocess_writes_photo_clips_a_listing_and_person_splits(tmp_path, photo_set):
    from training.cache import read_crop_cache
    from training.preprocess import photo_renders, preprocess_photos

    cache = tmp_path / "cache"
    stats = preprocess_photos(photo_set, cache, min_clips=2, progress=False)
    # the two neutral photos reach 2 clips; the one happy and the one sad photo are rendered twice each
    assert stats["renders"] == {"neutral": 1, "happiness": 2, "sadness": 2} and stats["clips"] == 6
    items = read_crop_cache(cache)
    assert len(items) == 6 and {it.subject for it in items} == {"Grace_Hopper", "Luis_Coelho", "Eileen_Collins"}
    sad = [it for it in items if it.recording == "hopper_2"]
    data = sad[0].load()
    assert data["crops"].shape == (16, 64, 64, 3) and np.all(data["valence"] == CATEGORY_VALENCE["sadness"])
    assert not np.array_equal(sad[0].load()["crops"], sad[1].load()["crops"])  # two renders, two motions
    with (cache / "photos.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and all(r["split"] == person_split(r["person"]) for r in rows)
    listed = {s: (cache / "splits" / f"{s}.txt").read_text().split() for s in SPLITS}
    assert sorted(sum(listed.values(), [])) == ["Eileen_Collins", "Grace_Hopper", "Luis_Coelho"]
    assert preprocess_photos(photo_set, cache, min_clips=2, progress=False)["skipped"] == 6  # resumes
    assert photo_renders(load_photos(photo_set), 400) == {"neutral": 4, "happiness": 4, "sadness": 4}


def test_a_photo_clip_starts_on_a_face_the_tracker_needs_a_few_frames_to_find(crops):
    """A head tilted 25° is found on the copy of the frame turned 25°, which the tracker searches on
    its second frame: the clip's first frame is shown until then, as a live face is there before
    a clip starts."""
    photo = crops["hopper"]
    h, w = photo.shape[:2]
    tilted = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    tracker = FaceTracker(crop_size=64)
    direct = PhotoClipSettings(lead_in_frames=0)
    _, face = photo_clip(tilted, tracker, np.random.default_rng(5), direct)
    assert not face[0] and face[-1]  # without the lead-in the first frame has no face yet
    _, face = photo_clip(tilted, tracker, np.random.default_rng(5))
    assert face.all()


def test_auc_interval_resamples_people_not_photos():
    from training.evaluate_photos import auc_interval

    rng = np.random.default_rng(0)
    # perfectly ordered: every resample has AUC 1
    y = np.array([True] * 20 + [False] * 20)
    assert auc_interval(y, np.arange(40)[::-1].astype(float), np.arange(40).astype(str)) == (1.0, 1.0)
    # no signal: the interval holds 0.5 and is as wide as 40 + 40 draws allow
    y = np.array([True] * 40 + [False] * 40)
    scores = rng.normal(size=80)
    lo, hi = auc_interval(y, scores, np.arange(80).astype(str))
    assert lo < 0.5 < hi and 0.15 < hi - lo < 0.35
    # the same photos, but each person holding 8 of them (a person's photos score alike): fewer
    # independent draws, a wider interval
    people = np.repeat(np.arange(10), 8).astype(str)
    alike = np.repeat(rng.normal(size=10), 8) + 0.01 * rng.normal(size=80)
    y_people = np.repeat(np.array([True] * 5 + [False] * 5), 8)
    lo_p, hi_p = auc_interval(y_people, alike, people)
    lo_i, hi_i = auc_interval(y_people, alike, np.arange(80).astype(str))
    assert hi_p - lo_p > 1.5 * (hi_i - lo_i)
    # one class only: no interval
    lo, hi = auc_interval(np.ones(5, bool), np.arange(5.0), np.arange(5).astype(str))
    assert np.isnan(lo) and np.isnan(hi)


def test_the_report_says_when_an_auc_is_too_uncertain_to_go_by(capsys):
    from training.evaluate_photos import print_report

    category = {"photos": 40, "scored": 40, "mean": 0.1, "std": 0.2, "target": 0.0}
    report = {"split": "test", "photos": 80, "people": 80, "scored": 80, "face_lost": 0,
              "per_category": {"neutral": category},
              "auc": {"happy_vs_neutral": {"auc": 0.93, "positive": 200, "negative": 200, "ci95": [0.90, 0.96]},
                      "neutral_vs_negative": {"auc": 0.59, "positive": 180, "negative": 30, "ci95": [0.41, 0.74]}}}
    print_report(report)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].endswith("0.900–0.960 (people resampled)")
    assert lines[-1].endswith("0.410–0.740 (people resampled): too few photos to measure it closely")
