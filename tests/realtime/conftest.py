import numpy as np
import pytest

from realtime.benchmarks.motion_clip import make_motion_clip


@pytest.fixture(scope="session")
def motion_clip():
    """10 s of a real face photo moving (translation, scale, roll), leaving the frame at 150–200,
    lighting change and sensor noise."""
    return make_motion_clip(n_frames=300, leave=(150, 200), seed=3)


@pytest.fixture(scope="session")
def still_clip():
    """A face that holds still for 60 frames (with sensor noise): for jitter."""
    return make_motion_clip(n_frames=90, leave=None, still=(0, 90), lighting=False, seed=4)


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory, motion_clip):
    return motion_clip.write(tmp_path_factory.mktemp("clips") / "motion.mp4")


@pytest.fixture(scope="session")
def noface_file(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("clips") / "noface.mp4"
    rng = np.random.default_rng(0)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    base = cv2.resize(rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8), (320, 240))
    for i in range(45):
        vw.write(np.roll(base, i, axis=1))
    vw.release()
    return path
