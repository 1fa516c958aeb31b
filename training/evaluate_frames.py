"""Valence scored as the papers score it: on every frame of the annotation grid.

The STA gives one value per clip. Here a clip ends every ``every_s`` seconds wherever every frame
of it has a face; the values are placed at their clips' last frames and linearly interpolated onto
every frame of the recording (frames before the first or after the last value take the nearest
one), so frames where no face was found get a value too, as in the papers. Truth is the per-frame
label of the crop cache (the annotation grid the cache was made on).

The AV+EC post-processing (smoothing, centring, scaling, a time shift for the annotators' lag;
:mod:`training.metrics`) is tuned on the **development** subjects — window and shift by CCC — and
applied unchanged to the **test** subjects; the centring and scaling use the training labels'
statistics stored in the bundle (else the development labels'), never the test labels. RMSE,
Pearson CC and CCC are reported over the test subjects' frames, with and without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engines.bundle import Bundle

# the grid searched on the development subjects, in seconds (converted to frames of each recording)
WINDOWS_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
SHIFTS_S = (0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.8)


def frame_predictions(model, item, every_s: float = 0.25) -> tuple[np.ndarray, np.ndarray, int]:
    """(truth (N,), prediction (N,), clips) for one recording on its every frame."""
    import torch

    from training.train_sta import ValenceClips, predict

    data = item.load()
    truth = np.asarray(data["valence"], np.float64)
    clips = ValenceClips([item], model.config, hop_s=every_s)
    if len(clips) == 0:
        return truth, np.full(len(truth), np.nan), 0
    ends = np.array([int(ref.frames[-1]) for ref in clips.clips])
    values = predict(model, clips, 16, torch.device("cpu")).astype(np.float64)
    order = np.argsort(ends, kind="stable")
    return truth, np.interp(np.arange(len(truth)), ends[order], values[order]), len(clips)


def _windows(seconds: Sequence[float], fps: float) -> list[int]:
    """Smoothing windows in frames (odd: centred; 1 = none)."""
    return sorted({max(1, int(round(s * fps))) | 1 for s in seconds})


def _shifts(seconds: Sequence[float], fps: float) -> list[int]:
    return sorted({int(round(s * fps)) for s in seconds})


def evaluate_frames(bundle: Bundle, items_test: Sequence, items_dev: Sequence, every_s: float = 0.25
                    ) -> dict[str, Any]:
    """Per-frame valence metrics of the test recordings, raw and post-processed with settings tuned
    on the development recordings."""
    from engines.sta import load_sta
    from training.metrics import LabelStats, regression_metrics, tune_postprocessing

    model = load_sta(bundle)

    def run(items):
        out = []
        for item in items:
            truth, pred, clips = frame_predictions(model, item, every_s)
            if clips:
                out.append((item, truth, pred, clips))
        return out

    test, dev = run(items_test), run(items_dev)
    if not test:
        raise ValueError("no test recording holds a clip with a face on every frame")
    result: dict[str, Any] = {
        "every_s": every_s, "test_recordings": len(test), "test_frames": int(sum(len(t) for _, t, _, _ in test)),
        "raw": regression_metrics(np.concatenate([t for _, t, _, _ in test]), np.concatenate([p for _, _, p, _ in test])),
        "per_recording": {it.key: {"frames": len(t), "clips": n, **regression_metrics(t, p)} for it, t, p, n in test},
    }
    if not dev:
        result["postprocessed"] = None
        result["postprocessing_note"] = "no development recordings given (--dev): nothing to tune on"
        return result
    stats_d = ((bundle.section("sta").get("metrics") or {}).get("label_stats"))
    stats = LabelStats(**stats_d) if stats_d else LabelStats.of(np.concatenate([t for _, t, _, _ in dev]))
    fps = float(np.median([it.fps for it, _, _, _ in dev]))
    pp, dev_ccc = tune_postprocessing([p for _, _, p, _ in dev], [t for _, t, _, _ in dev], stats,
                                      windows=_windows(WINDOWS_S, fps), shifts=_shifts(SHIFTS_S, fps))
    post = [pp(p, stats) for _, _, p, _ in test]
    result["postprocessed"] = regression_metrics(np.concatenate([t for _, t, _, _ in test]), np.concatenate(post))
    result["postprocessing"] = {**pp.to_dict(), "tuned_on": sorted({it.subject for it, _, _, _ in dev}),
                                "dev_ccc": dev_ccc, "label_stats": {"mean": stats.mean, "std": stats.std},
                                "label_stats_from": "bundle" if stats_d else "development labels"}
    return result


def print_frames(r: dict[str, Any]) -> None:
    o = r["raw"]
    print(f"valence on every frame — {r['test_frames']} frames of {r['test_recordings']} test recordings "
          f"(a clip every {r['every_s']} s, interpolated): CCC {o['ccc']:.3f}  CC {o['cc']:.3f}  RMSE {o['rmse']:.3f}")
    if r.get("postprocessed"):
        o, pp = r["postprocessed"], r["postprocessing"]
        print(f"  post-processed (tuned on {len(pp['tuned_on'])} development subjects: {pp['smoothing']} window "
              f"{pp['window']}, shift {pp['shift']} frames): CCC {o['ccc']:.3f}  CC {o['cc']:.3f}  RMSE {o['rmse']:.3f}")
    elif r.get("postprocessing_note"):
        print(f"  {r['postprocessing_note']}")


def frame_items(cache: str | Path, test: Sequence[str] | None, dev: Sequence[str] | None, subset) -> tuple[list, list]:
    """The test and development recordings of a crop cache (``subset`` resolves subject lists)."""
    from training.cache import read_crop_cache

    items = read_crop_cache(cache)
    test_items = subset(items, test)
    dev_items = subset(items, dev) if dev else []
    overlap = {it.subject for it in test_items} & {it.subject for it in dev_items}
    if overlap:
        raise ValueError(f"subjects {sorted(overlap)[:5]} are both development and test subjects; the "
                         f"post-processing must be tuned on people the figure is not reported on")
    return test_items, dev_items
