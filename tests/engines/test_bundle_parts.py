"""A bundle is checked whole when it is opened: every file it names, used by the run or not."""
from __future__ import annotations

import json
import shutil

import pytest

from engines.bundle import DEFAULT_BUNDLE_DIR, BundleError, load_bundle, named_parts


@pytest.fixture()
def bundle_copy(tmp_path):
    return shutil.copytree(DEFAULT_BUNDLE_DIR, tmp_path / "bundle")


def _truncate(path, keep_fraction: float = 0.9) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])


def test_the_shipped_bundle_is_whole_and_names_every_part():
    bundle = load_bundle()
    fields = dict(named_parts(bundle.meta))
    assert fields["sta.weights"] == "sta.safetensors" and fields["lstmpb.weights"] == "lstmpb.safetensors"
    assert fields["lstmpb.classifiers.pooled"].endswith(".ubj")
    assert all((DEFAULT_BUNDLE_DIR / f).is_file() for f in fields.values())


def test_truncated_weights_are_refused_at_load(bundle_copy):
    _truncate(bundle_copy / "sta.safetensors")
    with pytest.raises(BundleError, match=r"sta.safetensors: damaged \(tensor data is .*truncated.*'sta.weights'"):
        load_bundle(bundle_copy)


def test_a_missing_classifier_is_refused_even_when_not_in_use(bundle_copy):
    (bundle_copy / "xgb_clip_surprise.ubj").unlink()  # a live run uses the pooled live classifier only
    with pytest.raises(BundleError, match=r"xgb_clip_surprise.ubj: missing \(named by "
                                          r"'lstmpb.clip_classifiers.surprise'"):
        load_bundle(bundle_copy)


def test_a_truncated_classifier_is_refused(bundle_copy):
    _truncate(bundle_copy / "xgb_anger.ubj", 0.5)
    with pytest.raises(BundleError, match="xgb_anger.ubj: damaged .*UBJSON"):
        load_bundle(bundle_copy)


def test_a_part_outside_the_bundle_is_refused(bundle_copy):
    meta = json.loads((bundle_copy / "bundle.json").read_text())
    meta["sta"]["weights"] = "../elsewhere.safetensors"
    (bundle_copy / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="points outside the bundle"):
        load_bundle(bundle_copy)
