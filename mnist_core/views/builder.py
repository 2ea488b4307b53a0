"""The Train page's architecture builder, without Streamlit: where a run starts from, the
editor's layers and settings, and the TrainConfig they make.

The editor holds plain layer dicts (the JSON of `mnist_core.model.spec`) exactly as the student left
them, valid or not, so that nothing typed is lost or silently corrected: `draft()` explains
what is wrong (naming the layer), and `config()` refuses with the field's name. Every layer
also has a stable id, so the page's widgets follow their layer when layers move.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from mnist_core.lab.catalog import card_config, run_config
from mnist_core.training.config import TrainConfig
from mnist_core.training.presets import DEFAULT_PRESET, LESSON_PRESET, PRESETS
from mnist_core.model.spec import LAYER_TYPES, Field, LayerRow, ModelSpec, SpecError, layer
from mnist_core.lab.runs import RunRecord

MNIST_TRAINING_IMAGES = 60_000
#: The "Training images" choices; the largest means all of them (no limit).
SIZES = (1_000, 3_000, 10_000, 30_000, MNIST_TRAINING_IMAGES)
EDITED = " (edited)"
SETTINGS = ("epochs", "batch_size", "learning_rate", "augment", "validation_fraction", "size")


# --- where a run starts from -------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    """A starting point: a preset, the bundled model or a past run, with its full config."""

    key: str                          # "preset:fast", "bundled" or "run:<id>"
    label: str
    config: TrainConfig
    about: str                        # one line on what it is


def preset_starts() -> list[Start]:
    return [Start(f"preset:{p.name}", f"{p.name} (preset" + (
        ", suggested: a strong model in one lesson)" if p.name == LESSON_PRESET else ")"),
        p.config, p.description) for p in PRESETS.values()]


def starts(runs: list[RunRecord], card: dict | None = None) -> tuple[list[Start], list[str]]:
    """(starting points, why some runs are not one): the presets, then the bundled model if
    its architecture is not a preset's, then every finished or stopped run, newest first,
    whose record rebuilds (fine-tunes and hand-edited records do not, and say why)."""
    found = preset_starts()
    if card:
        try:
            bundled = card_config(card)
        except ValueError:
            bundled = None            # a card without a usable config: not a starting point
        if bundled is not None and all(bundled.spec.layers != p.spec.layers
                                       for p in PRESETS.values()):
            found.append(Start("bundled", "the bundled model", bundled,
                               f"The model the lab ships with: {bundled.spec.summary()}"))
    problems = []
    for run in runs:
        if run.status not in ("done", "stopped"):
            continue
        try:
            config = run_config(run)
        except ValueError as e:       # ConfigError, SpecError
            problems.append(str(e))
            continue
        accuracy = (f"{100 * run.test_accuracy:.2f}%" if run.test_accuracy is not None
                    else "no test score")
        name = config.spec.name if config.preset == "custom" else config.preset
        found.append(Start(f"run:{run.id}", f"run {name} · {run.id} · {accuracy}", config,
                           f"Run {run.id} ({run.status}, {accuracy}): {config.spec.summary()}"))
    return found, problems


def default_start() -> Start:
    return next(s for s in preset_starts() if s.key == f"preset:{DEFAULT_PRESET}")


def size_for(limit: int | None) -> int:
    """The "Training images" choice for a config's limit (all images when there is none)."""
    return MNIST_TRAINING_IMAGES if limit is None else limit


def limit_for(size: int) -> int | None:
    return None if size >= MNIST_TRAINING_IMAGES else size


def size_choices(current: int) -> list[int]:
    """SIZES, plus a past run's own limit (e.g. 2,000 from the command line)."""
    return sorted(set(SIZES) | {current})


# --- the editor --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """What the editor's layers make right now."""

    spec: ModelSpec | None            # None when the stack cannot be built
    rows: tuple[LayerRow, ...]        # one per layer; empty when the stack cannot be built
    problem: str | None = None        # the SpecError message, naming the layer and reason
    problem_layer: int | None = None  # the 1-based layer it names, if it names one

    @property
    def total(self) -> int:
        return sum(r.parameters for r in self.rows)


def shape_text(shape: tuple[int, ...]) -> str:
    """"26×26×32" for a stack of maps, "128" for a vector."""
    return "×".join(map(str, shape))


def field_label(name: str) -> str:
    """"use_bias" -> "Use bias"."""
    return name.replace("_", " ").capitalize()


def field_step(f: Field) -> float:
    """The +/- step of a number field: 1 for whole numbers, a hundredth for rates."""
    return 1 if f.kind is int else 0.01


def duration_text(seconds: float) -> str:
    """"0.8 s", "12 s", "3 min 20 s", "2 h 05 min": as precise as a timing on shared cores."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    if seconds < 3570:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def run_estimate(per_epoch: float, epochs: int) -> str:
    """"≈ 15 s for 3 epochs (5.0 s each)" from a measured epoch time."""
    if epochs == 1:
        return f"≈ {duration_text(per_epoch)} for 1 epoch"
    return (f"≈ {duration_text(per_epoch * epochs)} for {epochs} epochs "
            f"({duration_text(per_epoch)} each)")


def layer_dict(type: str) -> dict[str, Any]:
    """A new layer of `type` with its default parameters (KeyError for an unknown type)."""
    return {"type": type, **{f.name: f.default for f in LAYER_TYPES[type].fields}}


def edited_name(name: str) -> str:
    """"fast" -> "fast (edited)", kept within the 40 characters a spec name may have."""
    base = name[:-len(EDITED)] if name.endswith(EDITED) else name
    return base[:40 - len(EDITED)] + EDITED


@dataclass
class Editor:
    """One browser session's builder: the start it came from, the layers and the settings.

    Kept in the session between script runs; the page draws a widget per field and writes
    each widget's value back with `set_field`/`set_setting`, whatever it is."""

    start: Start
    layers: list[dict] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)   # stable, parallel to `layers`
    settings: dict[str, Any] = field(default_factory=dict)
    generation: int = 0               # changes on every load: the settings widgets restart
    _next_id: int = 0

    def __post_init__(self) -> None:
        if not self.layers:
            self.load(self.start)

    # --- loading ---------------------------------------------------------------------------

    def load(self, start: Start) -> None:
        """Replace everything with `start`'s layers and settings."""
        self.start = start
        self.layers = [l.to_dict() for l in start.config.spec.layers]
        self.ids = [self._new_id() for _ in self.layers]
        c = start.config
        self.settings = {"epochs": c.epochs, "batch_size": c.batch_size,
                         "learning_rate": c.learning_rate, "augment": c.augment,
                         "validation_fraction": c.validation_fraction,
                         "size": size_for(c.limit)}
        self.generation += 1

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- editing ---------------------------------------------------------------------------

    def add(self, type: str, position: int | None = None) -> None:
        """Insert a new `type` layer with default parameters before index `position` (0-based;
        None: before the output layer, where new layers usually go)."""
        if type not in LAYER_TYPES:
            raise SpecError(f"'{type}' is not a layer type this lab builds "
                            f"(allowed: {', '.join(LAYER_TYPES)})")
        if position is None:
            position = self.default_position()
        position = max(0, min(position, len(self.layers)))
        self.layers.insert(position, layer_dict(type))
        self.ids.insert(position, self._new_id())

    def remove(self, index: int) -> None:
        del self.layers[index], self.ids[index]

    def move(self, index: int, delta: int) -> None:
        """Move layer `index` by `delta` places (-1: up); nothing happens past either end."""
        target = index + delta
        if 0 <= index < len(self.layers) and 0 <= target < len(self.layers):
            for items in (self.layers, self.ids):
                items[index], items[target] = items[target], items[index]

    def set_field(self, index: int, name: str, value: Any) -> None:
        """Keep exactly what was entered; `draft()` says if it is not allowed."""
        self.layers[index][name] = value

    def set_setting(self, name: str, value: Any) -> None:
        if name not in SETTINGS:
            raise KeyError(name)
        self.settings[name] = value

    def default_position(self) -> int:
        return max(0, len(self.layers) - 1)

    def position_label(self, position: int) -> str:
        if position >= len(self.layers):
            return "at the end"
        return f"before layer {position + 1} ({LAYER_TYPES[self.layers[position]['type']].label})"

    def describe(self, index: int) -> str:
        """"Conv2D 32 3x3 relu"; just the type's name while a field is not allowed."""
        data = self.layers[index]
        try:
            return layer(**data).describe()
        except (SpecError, TypeError):
            return LAYER_TYPES[data["type"]].label

    def index_of(self, layer_id: int) -> int | None:
        """Where the layer with this id is now (None once removed)."""
        return self.ids.index(layer_id) if layer_id in self.ids else None

    def key(self, index: int, name: str) -> str:
        """A widget key that follows layer `index` wherever it moves."""
        return f"layer-{self.ids[index]}-{name}"

    def setting_key(self, name: str) -> str:
        return f"{name}-{self.generation}"

    # --- results ---------------------------------------------------------------------------

    def draft(self) -> Draft:
        try:
            spec = ModelSpec.from_dict({"name": self.spec_name(), "layers": self.layers})
        except SpecError as e:
            found = re.match(r"layer (\d+)\b", str(e))
            return Draft(None, (), str(e), int(found.group(1)) if found else None)
        return Draft(spec, tuple(spec.table()))

    @property
    def changed(self) -> bool:
        """True when the layers differ from the start's."""
        return self.layers != [l.to_dict() for l in self.start.config.spec.layers]

    def spec_name(self) -> str:
        name = self.start.config.spec.name
        return edited_name(name) if self.changed else name

    def problems(self) -> list[str]:
        """Everything that keeps these layers and settings from training, each message naming
        its layer or field (the checks are TrainConfig's own, one setting at a time)."""
        problem = self.draft().problem
        found = [problem] if problem else []
        s = self.settings
        for name, value in (("epochs", s["epochs"]), ("batch_size", s["batch_size"]),
                            ("learning_rate", s["learning_rate"]), ("augment", s["augment"]),
                            ("validation_fraction", s["validation_fraction"]),
                            ("limit", self._limit())):
            try:
                replace(self.start.config, **{name: value})
            except ValueError as e:
                found.append(str(e))
        return found

    def config(self) -> TrainConfig:
        """The run's config: the start's, with these layers and settings. SpecError or
        ConfigError (both ValueErrors) naming the layer or field that is not allowed.

        Settings the page does not show (optimizer, schedule, label smoothing, augmentation
        strength, seed, precision) come from the start."""
        spec = ModelSpec.from_dict({"name": self.spec_name(), "layers": self.layers})
        s = self.settings
        return replace(self.start.config, spec=spec,
                       preset="custom" if self.changed else self.start.config.preset,
                       epochs=s["epochs"], batch_size=s["batch_size"],
                       learning_rate=s["learning_rate"], augment=s["augment"],
                       validation_fraction=s["validation_fraction"], limit=self._limit())

    def _limit(self) -> Any:
        size = self.settings["size"]
        return limit_for(size) if isinstance(size, int) else size   # else: refused by name
