"""Model bundles: a folder with ``bundle.json``, safetensors weights and XGBoost models.

Nothing here unpickles: weights are safetensors, classifiers are XGBoost JSON/UBJ. A bad or
mismatched bundle raises :class:`BundleError` naming the file and the field at fault.

``bundle.json`` (schema ``affectscope.bundle/1``)::

    {
      "schema": "affectscope.bundle/1",
      "name": "default-synthetic",
      "trained_on": "free text: what data, which subjects held out",
      "landmark_normalization": "similarity" | "face_box" | "landmark_box",  ("roi": landmark_box)
      "crop_size": 64,
      "clip_length": 16,
      "clip_rate_fps": 4.0,
      "lstmpb": {...section of the LSTM-PB model, optional...},
      "sta": {...section of the STA-3DCNN model, optional...}
    }

A section names its files relative to the bundle folder; :meth:`Bundle.file` resolves and checks them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "affectscope.bundle/1"
#: Landmark normalizations (see realtime.perception.landmarks): head motion removed; the paper's, to
#: the tracked face box; to the box of the landmarks themselves.
NORMALIZATIONS = ("similarity", "face_box", "landmark_box")
#: Earlier names of the same computations ("roi" scaled to the landmarks' own box).
FORMER_NORMALIZATION_NAMES = {"roi": "landmark_box"}


def canonical_normalization(name: str) -> str:
    """The normalization's name today (an earlier name of the same computation is taken as it)."""
    return FORMER_NORMALIZATION_NAMES.get(name, name)
DEFAULT_BUNDLE_DIR = Path(__file__).resolve().parent / "bundles" / "default"


class BundleError(ValueError):
    """A model bundle that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class Bundle:
    root: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.root.name))

    @property
    def landmark_normalization(self) -> str:
        return self.meta["landmark_normalization"]

    @property
    def crop_size(self) -> int:
        return int(self.meta["crop_size"])

    @property
    def clip_length(self) -> int:
        return int(self.meta["clip_length"])

    @property
    def clip_rate_fps(self) -> float:
        return float(self.meta["clip_rate_fps"])

    def has(self, section: str) -> bool:
        return isinstance(self.meta.get(section), dict)

    def section(self, name: str) -> dict[str, Any]:
        sec = self.meta.get(name)
        if not isinstance(sec, dict):
            raise BundleError(f"{self.root / 'bundle.json'}: no '{name}' section (the bundle has no such model)")
        return sec

    def file(self, section: str, field: str) -> Path:
        """Path of a file named by ``section.field``; it must exist inside the bundle folder."""
        rel = self.section(section).get(field)
        if not isinstance(rel, str) or not rel:
            raise BundleError(f"{self.root / 'bundle.json'}: field '{section}.{field}' must name a file")
        return self.part(rel, f"{section}.{field}")

    def part(self, rel: str, field: str) -> Path:
        """Path of the file ``rel`` that bundle.json names in ``field``: inside the folder, present."""
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents:
            raise BundleError(f"{self.root / 'bundle.json'}: '{field}' points outside the bundle: {rel}")
        if not path.is_file():
            raise BundleError(f"{path}: missing (named by '{field}' in bundle.json); the bundle is incomplete, "
                              f"copy it again or retrain")
        return path

    def parse(self, section: str, field: str, from_dict):
        """``from_dict(section.field)`` (a config dataclass); a missing or invalid field raises
        BundleError naming bundle.json and the field."""
        sec = self.section(section)
        meta = self.root / "bundle.json"
        if field not in sec:
            raise BundleError(f"{meta}: field '{section}.{field}' is missing")
        try:
            return from_dict(sec[field])
        except (TypeError, ValueError) as exc:
            raise BundleError(f"{meta}: field '{section}.{field}' is invalid: {exc}") from None

    def sha256(self) -> str:
        """Digest over bundle.json and every file it sits beside (names and bytes, sorted)."""
        h = hashlib.sha256()
        for p in sorted(self.root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(self.root).as_posix().encode())
                h.update(p.read_bytes())
        return h.hexdigest()


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": str,
    "name": str,
    "trained_on": str,
    "landmark_normalization": str,
    "crop_size": int,
    "clip_length": int,
    "clip_rate_fps": (int, float),
}


def load_bundle(root: str | Path | None = None) -> Bundle:
    """Read and validate a bundle folder (the shipped default when ``root`` is None)."""
    root = Path(root) if root is not None else DEFAULT_BUNDLE_DIR
    meta_path = root / "bundle.json"
    if not root.is_dir():
        raise BundleError(f"{root}: not a folder; a model bundle is a folder holding bundle.json")
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: missing; a model bundle is a folder holding bundle.json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: top level must be an object")
    for key, typ in _REQUIRED.items():
        if key not in meta:
            raise BundleError(f"{meta_path}: field '{key}' is missing")
        if not isinstance(meta[key], typ) or isinstance(meta[key], bool):
            raise BundleError(f"{meta_path}: field '{key}' has the wrong type ({type(meta[key]).__name__})")
    if meta["schema"] != SCHEMA:
        raise BundleError(f"{meta_path}: field 'schema' is {meta['schema']!r}, expected {SCHEMA!r}")
    meta["landmark_normalization"] = canonical_normalization(meta["landmark_normalization"])
    if meta["landmark_normalization"] not in NORMALIZATIONS:
        raise BundleError(
            f"{meta_path}: field 'landmark_normalization' is {meta['landmark_normalization']!r}, "
            f"expected one of {NORMALIZATIONS}"
        )
    if not 16 <= meta["crop_size"] <= 256:
        raise BundleError(f"{meta_path}: field 'crop_size' is {meta['crop_size']}, expected 16..256")
    if meta["clip_length"] < 2:
        raise BundleError(f"{meta_path}: field 'clip_length' is {meta['clip_length']}, expected >= 2")
    if meta["clip_rate_fps"] <= 0:
        raise BundleError(f"{meta_path}: field 'clip_rate_fps' must be > 0")
    bundle = Bundle(root=root, meta=meta)
    check_parts(bundle)
    return bundle


PART_SUFFIXES = (".safetensors", ".ubj")


def named_parts(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, file name) of every weight or classifier file the model sections name, e.g.
    ``("lstmpb.classifiers.anger", "xgb_anger.ubj")``."""
    out: list[tuple[str, str]] = []

    def walk(value: Any, field: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{field}.{k}")
        elif isinstance(value, str) and value.lower().endswith(PART_SUFFIXES):
            out.append((field, value))

    for key, value in meta.items():
        if isinstance(value, dict):
            walk(value, key)
    return out


def check_parts(bundle: Bundle) -> None:
    """Every file the bundle names exists inside it and is whole, whether or not the run will use it:
    a damaged part is found when the bundle is opened, not as an empty signal in a finished session.
    Safetensors: the header parses and the data ends where the header says. XGBoost UBJSON: one
    complete object. (The models' own loaders check shapes and contents of what they load.)"""
    for field, rel in named_parts(bundle.meta):
        path = bundle.part(rel, field)
        problem = _safetensors_problem(path) if path.suffix.lower() == ".safetensors" else _ubj_problem(path)
        if problem:
            raise BundleError(f"{path}: damaged ({problem}; named by '{field}' in bundle.json); copy the bundle "
                              f"again or retrain")


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than a safetensors header"
        n = int.from_bytes(head, "little")
        if n > size - 8:
            return f"header of {n} bytes in a file of {size}"
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "header is not valid JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    ends = [t["data_offsets"][1] for k, t in header.items()
            if k != "__metadata__" and isinstance(t, dict) and len(t.get("data_offsets", ())) == 2]
    data = size - 8 - n
    if max(ends, default=0) != data:
        return f"tensor data is {data} bytes, the header describes {max(ends, default=0)} (truncated or padded)"
    return None


def _ubj_problem(path: Path) -> str | None:
    size = path.stat().st_size
    if size < 2:
        return f"{size} bytes"
    with path.open("rb") as fh:
        first = fh.read(1)
        fh.seek(-1, 2)
        last = fh.read(1)
    if first != b"{" or last != b"}":
        return "not one complete UBJSON object (truncated?)"
    return None


WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def strip_wrapper_prefixes(state: dict[str, Any]) -> dict[str, Any]:
    """State-dict keys without the 'module.' (DistributedDataParallel) and '_orig_mod.'
    (torch.compile) prefixes, however they are nested."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def known_fields(cls, data: Any, what: str) -> dict[str, Any]:
    """``data`` as keyword arguments for the dataclass ``cls``; a non-object or an unknown field
    raises ValueError naming ``what`` and the fields (a config from another model or version)."""
    import dataclasses

    if not isinstance(data, dict):
        raise ValueError(f"{what} must be an object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{what} has unknown field(s) {unknown}; known: {sorted(known)}")
    return dict(data)


def write_bundle_json(root: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``bundle.json`` (atomically) after filling the schema field."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    meta = {"schema": SCHEMA, **meta}
    tmp = root / "bundle.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(root / "bundle.json")
    return root / "bundle.json"
