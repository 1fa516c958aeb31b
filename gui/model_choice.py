"""The models the window analyses with: the model bundle, which of its models are available (and
why not), and the genuine/fake expression model.

:class:`ModelChoice` is mixed into :class:`~gui.main_window.MainWindow`.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from engines.bundle import BundleError, load_bundle
from engines.expressions import EXPRESSION_MODELS
from gui.info_panel import MODEL_NAMES
from realtime.workers.registry import available_models


class ModelChoice:
    """Loading a bundle, the models' availability, switching the expression model.

    Keeps on the window: ``bundle``, the loaded :class:`~engines.bundle.Bundle` or None.

    Uses from the window: ``run``, ``pipeline_factory`` and ``settings``; the widgets ``messages``,
    ``status`` and ``session_bar``; and the methods ``stop``, ``_restart`` and ``_update_controls``
    (MainWindow) and ``_refresh_readouts_idle`` (:class:`~gui.status_readouts.StatusReadouts`).
    """

    def load_bundle(self, bundle_dir: str | Path | None) -> bool:
        """Load a model bundle (the shipped default when None); a bad one leaves the app usable."""
        try:
            self.bundle = load_bundle(bundle_dir)
        except BundleError as exc:
            self.bundle = None
            self.messages.error(f"Bad model bundle: {exc}. Live analysis is off until a valid bundle is loaded; "
                                f"replay of recorded sessions still works.")
            self.status.show_bundle(None)
            self._update_controls()
            return False
        self.status.show_bundle(self.bundle.name, f"{self.bundle.root}\ntrained on: {self.bundle.meta.get('trained_on', '?')}")
        self._update_controls()
        self._refresh_readouts_idle()
        return True

    def _ask_bundle(self) -> None:
        start_dir = str(self.bundle.root.parent) if self.bundle is not None else str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open a model bundle folder (holding bundle.json)", start_dir)
        if path:
            self.stop()
            if self.load_bundle(path):
                self.messages.info(f"Model bundle: {self.bundle.name} ({path})")

    def model_availability(self) -> dict[str, str | None]:
        """For 'valence' and 'p_fake': None if available, else why not (shown to the user)."""
        out: dict[str, str | None] = {}
        if self.run is not None and self.run.session.source_info is not None:
            models = self.run.session.models()
            provided = {f for m in models for f in m.provides}
            faulted = {f: m for m in models for f in m.provides if not m.available}
            for key in ("valence", "p_fake"):
                if key in faulted:
                    out[key] = f"unavailable: the {faulted[key].name} model failed ({faulted[key].error})"
                elif key in provided:
                    out[key] = None
                else:
                    out[key] = f"unavailable: bundle '{self.bundle.name}' has no {MODEL_NAMES[key]} model"
            return out
        if self.bundle is None:
            return {k: "unavailable: no model bundle loaded" for k in ("valence", "p_fake")}
        have = available_models(self.bundle)
        for key, section in (("valence", "sta"), ("p_fake", "lstmpb")):
            out[key] = None if have.get(section) else f"unavailable: bundle '{self.bundle.name}' has no {MODEL_NAMES[key]} model"
        if self.pipeline_factory is not None:  # a custom pipeline decides once it runs
            out = {k: None for k in out}
        return out

    def set_expression_model(self, name: str) -> None:
        if name not in EXPRESSION_MODELS:
            self.messages.error(f"unknown expression model {name!r}; choose one of {', '.join(EXPRESSION_MODELS)}")
            return
        self.settings.expression_model = name
        combo = self.session_bar.expression
        if combo.currentText() != name:
            combo.blockSignals(True)
            combo.setCurrentText(name)
            combo.blockSignals(False)
        if self.run is not None and self.run.running:
            if self.run.set_expression_model(name):
                self.messages.info(f"Expression model: {name} (the P(fake) estimate starts over).")
            elif self.run.session.models() and not self.run.recording:
                self._restart(f"expression model changed to {name}")

    @property
    def expression_model(self) -> str:
        return self.session_bar.expression.currentText()
