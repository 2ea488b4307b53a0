"""Which models exist, and what each one is: the bundled model and every stored run with a
model, with its label, accuracy and architecture.

The app's model pickers, the CLI's `--model` and `train --from-run` all ask here. A run's
architecture comes from its record (old records: from their preset), the bundled model's from
its card; a record or card edited into something invalid is reported with the reason, never
built.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mnist_core.training.config import ConfigError, TrainConfig
from mnist_core.training.presets import config_from_dict
from mnist_core.model.spec import ModelSpec
from mnist_core.lab.db import StoreError
from mnist_core.lab.runs import BUNDLED, FINE_TUNE, RunRecord
from mnist_core.lab.store import RunStore
from mnist_core.untrusted import is_number, short


@dataclass(frozen=True)
class ModelInfo:
    ref: str                          # "bundled" or a run id
    label: str
    test_accuracy: float | None
    spec: ModelSpec | None            # None when unknown or invalid (see `spec_problem`)
    spec_problem: str | None = None   # why there is no spec
    history: tuple[dict, ...] = ()    # a run's per-epoch metrics (none for the bundled model)

    @property
    def parameters(self) -> int | None:
        return None if self.spec is None else self.spec.parameter_count()

    def layer_table(self) -> list[dict]:
        """One row per layer (layer, output shape, parameters) for a compact table that can
        be set beside another model's; [] when the architecture is unknown (see
        `spec_problem`)."""
        if self.spec is None:
            return []
        return [{"layer": row.description, "output shape": _shape(row.output_shape),
                 "parameters": row.parameters} for row in self.spec.table()]


def _shape(shape: tuple[int, ...]) -> str:
    """(14, 14, 32) -> "14x14x32"; a vector (10,) -> "10"."""
    return "x".join(map(str, shape))


def run_config(record: RunRecord) -> TrainConfig:
    """The config that rebuilds `record`'s run; ConfigError/SpecError (ValueErrors) saying why
    not: a fine-tune is redone by fine-tuning, a hand-edited record is refused."""
    if record.preset == FINE_TUNE:
        source = record.config.get("from", "its source model")
        raise ConfigError(f"run {record.id} was fine-tuned from {source} on the class's "
                          f"drawings; redo it with: python -m mnist_core finetune --from {source}")
    try:
        return config_from_dict(record.config)
    except ValueError as e:
        raise type(e)(f"run {record.id}'s recorded settings cannot be used: {e}") from None


def trained_on_upload(record: RunRecord) -> bool:
    """True when the run learned from an uploaded Kaggle CSV, which the lab does not keep:
    redoing it needs the same file again."""
    return record.data_source.startswith("Kaggle")


def redo_config(record: RunRecord) -> TrainConfig:
    """The config that redoes `record`'s run on MNIST, as the Train page offers after an
    interruption; a ValueError says why it cannot be redone there (an uploaded CSV, a
    fine-tune, a hand-edited record)."""
    if trained_on_upload(record):
        raise ConfigError(f"it learned from an uploaded {record.data_source}: upload the same "
                          "file again to train on it")
    return run_config(record)


def card_config(card: dict) -> TrainConfig:
    """The bundled model's training config, from its card (checked like a record)."""
    if not isinstance(card, dict) or "config" not in card:
        raise ConfigError("the model card records no training config")
    try:
        return config_from_dict(card["config"])
    except ValueError as e:
        raise type(e)(f"the bundled model's card cannot be used: {e}") from None


def _architecture(get_config) -> tuple[ModelSpec | None, str | None]:
    try:
        return get_config().spec, None
    except ValueError as e:   # ConfigError, SpecError: a record or card edited by hand
        return None, str(e)


def _accuracy(value: object) -> float | None:
    """A recorded test accuracy (a share, 0 to 1), or None when it is anything else: a card
    edited to say "99%" must not break every page that shows the model."""
    return float(value) if is_number(value) and 0 <= value <= 1 else None


_KNOWN: dict[tuple[str, str], tuple[ModelSpec | None, str | None]] = {}


def _run_architecture(run: RunRecord) -> tuple[ModelSpec | None, str | None]:
    """`run`'s architecture, parsed once per record content: every page view lists the models
    (the sidebar's picker), and checking every recorded spec again each time adds up."""
    key = (run.id, json.dumps(run.config, sort_keys=True))
    found = _KNOWN.get(key)
    if found is None:
        found = _architecture(lambda: run_config(run))
        if len(_KNOWN) >= 4096:   # bounded: a lab with more records just parses again
            _KNOWN.clear()
        _KNOWN[key] = found
    return found


def list_models(store: RunStore | None, card: dict) -> list[ModelInfo]:
    """The bundled model first, then every stored run that offers a model, newest first
    (`RunRecord.offers_model`: not a run stopped before its first epoch ended). A store that
    cannot be read lists only the bundled model (it needs no store)."""
    card = card if isinstance(card, dict) else {}
    bundled_spec, problem = _architecture(lambda: card_config(card))
    preset = card.get("preset")
    name = preset if isinstance(preset, str) and 0 < len(preset) <= 40 else "model"
    found = [ModelInfo(BUNDLED, f"Bundled ({name})", _accuracy(card.get("test_accuracy")),
                       bundled_spec, problem)]
    try:
        runs = [r for r in store.list_runs() if r.offers_model] if store is not None else []
    except StoreError:
        runs = []
    specs = {BUNDLED: bundled_spec}
    for run in reversed(runs):        # oldest first, so a fine-tune finds its source's spec
        if run.preset == FINE_TUNE:   # same layers as the model it started from
            source = run.config.get("from")
            source = source if isinstance(source, str) else short(source)   # hand-edited
            specs[run.id] = specs.get(source)
            problem = None if specs[run.id] else (
                f"fine-tuned from {source}, whose architecture is unknown" if source in specs
                else f"fine-tuned from {source}, not stored any more")
        else:
            specs[run.id], problem = _run_architecture(run)
        accuracy = _accuracy(run.test_accuracy)
        acc = f", {100 * accuracy:.2f}%" if accuracy is not None else ""
        found.insert(1, ModelInfo(run.id, f"{run.title()}{acc}", accuracy,
                                  specs[run.id], problem, tuple(run.history)))
    return found


#: A browser's model pick that means "whatever the class model is" (the default).
FOLLOW_CLASS = "class"


def class_model(models: list[ModelInfo], class_ref: str) -> ModelInfo:
    """The class model among `models` (from `list_models`); the bundled model when the stored
    choice no longer exists (its run's files were removed, the store cannot be read)."""
    return next((m for m in models if m.ref == class_ref), models[0])


def chosen_model(models: list[ModelInfo], pick: object, class_ref: str) -> ModelInfo:
    """The model a browser uses: the one it picked, if that still exists, else the class
    model. `pick` comes from the browser (a cookie): anything else reads as FOLLOW_CLASS."""
    return next((m for m in models if m.ref == pick and pick != FOLLOW_CLASS),
                class_model(models, class_ref))


class ClassModelChoice:
    """The class model's ref, shared by every session of a server: read from the store at most
    once every `seconds` (each open page asks every few seconds whether it changed), written
    through at once. "bundled" when the store cannot be read."""

    def __init__(self, store: RunStore | None, seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.seconds, self._clock = store, seconds, clock
        self._ref, self._read_at = BUNDLED, float("-inf")
        self._lock = threading.Lock()

    def ref(self) -> str:
        with self._lock:
            if self.store is not None and self._clock() - self._read_at >= self.seconds:
                try:
                    self._ref = self.store.class_model()
                except StoreError:
                    self._ref = BUNDLED
                self._read_at = self._clock()
            return self._ref

    def set(self, ref: str) -> None:
        """Make `ref` the class model for everyone (KeyError or StoreError saying why not)."""
        if self.store is None:
            raise StoreError("the lab home cannot be used, so the class model cannot be kept")
        with self._lock:
            self.store.set_class_model(ref)
            self._ref, self._read_at = ref, self._clock()


def model_file(store: RunStore, ref: str | None, *, allow_path: bool = False) -> tuple[Path, str]:
    """(file, display name) for "bundled"/None or a run id; with `allow_path` (the CLI only,
    never the app) also a .keras file on disk. KeyError with the reason otherwise."""
    try:
        return store.lab_model_path(ref), ref or BUNDLED
    except KeyError as missing:
        candidate = Path(ref).expanduser() if allow_path and ref else None
        if candidate is not None and candidate.suffix in (".keras", ".h5", ".hdf5") \
                and candidate.exists():
            return candidate, candidate.name
        raise KeyError(f"'{ref}' is neither 'bundled', a stored run with a model"
                       + (", nor a .keras file" if allow_path else "")
                       + f" ({missing.args[0]})") from None
