import numpy as np
import pytest

from realtime.perception.landmarks import (
    KEPT, MIDPOINTS, N_POINTS, aligned_crop, crop_transform, eye_centres, landmark_box, landmark_vector, select40,
    similarity_fit, vector_to_points,
)
from realtime.benchmarks.motion_clip import FACE_PHOTO, photo_landmarks


@pytest.fixture(scope="module")
def pts68():
    import cv2

    return photo_landmarks(cv2.imread(str(FACE_PHOTO)))


def test_layout_is_the_papers_forty_points():
    assert list(KEPT) == [*range(17, 27), *range(30, 36), *range(36, 48), 48, 50, 51, 52, 54, 56, 57, 58]
    assert MIDPOINTS == ((0, 17), (26, 16), (2, 29), (14, 29))
    assert N_POINTS == 40


def test_select40_takes_kept_points_then_midpoints():
    pts = np.arange(136, dtype=np.float32).reshape(68, 2)
    p40 = select40(pts)
    assert p40.shape == (40, 2)
    np.testing.assert_array_equal(p40[:36], pts[list(KEPT)])
    np.testing.assert_allclose(p40[36], (pts[0] + pts[17]) / 2)
    np.testing.assert_allclose(p40[39], (pts[14] + pts[29]) / 2)


def _similarity(pts, angle_deg, scale, shift):
    a = np.deg2rad(angle_deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts @ r.T + shift).astype(np.float32)


def test_similarity_normalization_removes_pose(pts68):
    v0 = landmark_vector(pts68, (0, 0, 1, 1), "similarity")
    moved = _similarity(pts68, 17.0, 1.7, np.array([40.0, -25.0]))
    v1 = landmark_vector(moved, (0, 0, 1, 1), "similarity")
    assert v0.shape == (80,) and v0.dtype == np.float32
    assert np.abs(v0).max() <= 1.0
    np.testing.assert_allclose(v0, v1, atol=1e-4)
    # ...but an expression (mouth corners pulled up and out) changes it
    smile = pts68.copy()
    smile[48] += (-6, -5)
    smile[54] += (6, -5)
    assert np.abs(landmark_vector(smile, (0, 0, 1, 1), "similarity") - v0).max() > 0.02


def test_box_normalizations_are_relative_to_their_box(pts68):
    face_box = landmark_box(pts68)
    v = landmark_vector(pts68, face_box, "face_box")
    np.testing.assert_allclose(v, landmark_vector(pts68, None, "landmark_box"), atol=1e-6)  # the same box here
    np.testing.assert_allclose(v, landmark_vector(pts68, None, "roi"), atol=1e-6)  # the earlier name of landmark_box
    assert v.min() >= -1.0 and v.max() <= 1.0
    pts = vector_to_points(v)
    # the brow-end midpoint (0,17) is leftmost-ish: x near -1; the lower lip 57 lies low: y near +1
    assert pts[36, 0] < -0.7
    assert pts[KEPT.index(57), 1] > 0.4
    with pytest.raises(ValueError, match="normalization"):
        landmark_vector(pts68, face_box, "affine")
    with pytest.raises(ValueError, match="tracked face box"):
        landmark_vector(pts68, None, "face_box")


def test_a_brow_raise_moves_only_the_brows_in_the_papers_face_box(pts68):
    """The paper normalizes to the tracked face box, which an expression does not move; the
    landmarks' own box grows with a brow raise and rescales every point."""
    face_box = landmark_box(pts68)
    raised = pts68.copy()
    height = pts68[:, 1].max() - pts68[:, 1].min()
    raised[17:27, 1] -= 0.08 * height  # brows up by 8 % of the face height
    brows = np.isin(np.r_[KEPT, [-1] * 4], range(17, 27))
    brows[-4:-2] = True  # the brow-end midpoints follow the brows
    for norm, still in (("face_box", True), ("landmark_box", False)):
        a = vector_to_points(landmark_vector(pts68, face_box, norm))
        b = vector_to_points(landmark_vector(raised, face_box, norm))
        others = np.abs(a - b)[~brows].max()
        assert (others < 1e-6) if still else (others > 0.03), (norm, others)
        assert np.abs(a - b)[brows].max() > 0.04


def test_aligned_crop_puts_eyes_and_nose_at_fixed_places(pts68):
    import cv2

    img = cv2.imread(str(FACE_PHOTO))
    for angle, scale in [(0, 1.0), (20, 1.5), (-12, 0.7)]:
        pts = _similarity(pts68, angle, scale, np.array([10.0, 5.0]))
        m = crop_transform(pts, 64)
        le, re = eye_centres(pts)
        mapped = np.array([le, re, pts[30]]) @ m[:, :2].T + m[:, 2]
        np.testing.assert_allclose(mapped[:, 1][:2], [0.40 * 64, 0.40 * 64], atol=1.5)
        assert mapped[0, 0] < mapped[2, 0] < mapped[1, 0]
    crop = aligned_crop(img, pts68, 64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8


def test_similarity_fit_is_the_least_squares_similarity():
    """The closed form gives Umeyama's SVD solution (rotation, uniform scale, shift; no reflection)."""
    rng = np.random.default_rng(4)
    for _ in range(200):
        src = rng.normal(size=(6, 2))
        dst = rng.normal(size=(6, 2)) * 0.2 + src * rng.uniform(-3, 3)
        s, d = src - src.mean(0), dst - dst.mean(0)
        u, sig, vt = np.linalg.svd(d.T @ s)
        sign = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
        rot = u @ np.diag(sign) @ vt
        scale = (sig * sign).sum() / (s ** 2).sum()
        m = similarity_fit(src, dst)
        assert np.allclose(m[:, :2], scale * rot, atol=1e-9)
        assert np.allclose(m[:, 2], dst.mean(0) - scale * rot @ src.mean(0), atol=1e-9)
    # a known transform is recovered exactly
    theta, k, t = 0.4, 1.7, np.array([3.0, -2.0])
    r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    src = rng.normal(size=(6, 2))
    assert np.allclose(similarity_fit(src, src @ (k * r).T + t), np.c_[k * r, t])
