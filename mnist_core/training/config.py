"""Everything that defines a run, checked once where it is made.

A `TrainConfig` holds the architecture (a `ModelSpec`), the optimizer and its rate, schedule,
label smoothing, augmentation, how much data, seed and precision. It is saved as JSON with
every run and every model card, so `python -m mnist_core train --from-run RUN_ID` rebuilds a
run from its record alone. A TrainConfig that exists is valid: the checks run when it is
constructed, and their messages name the field the way the Train page and the CLI do.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mnist_core.model.spec import ModelSpec, SpecError
from mnist_core.untrusted import short

OPTIMIZERS = ("adam", "sgd")          # sgd: momentum 0.9
SCHEDULES = ("constant", "one-cycle")  # one-cycle: warm-up, then cosine decay
PRECISIONS = ("auto", "float32", "mixed_bfloat16")

#: Allowed ranges, one place for the core's checks and the Train page's hints:
#: name -> (label, low, high, why).
RANGES: dict[str, tuple[str, float, float, str]] = {
    "epochs": ("Epochs", 1, 200, "200 epochs of the biggest preset already take hours on a laptop"),
    "batch_size": ("Batch size", 8, 4096, "below 8 an epoch takes hours; above 4096 a batch "
                   "no longer fits a laptop's memory comfortably"),
    "learning_rate": ("Learning rate", 1e-6, 1.0, "0 learns nothing; above 1 Adam diverges"),
    "validation_fraction": ("Validation fraction", 0.0, 0.5, "more than half held out "
                            "leaves too little to learn from"),
    "label_smoothing": ("Label smoothing", 0.0, 0.5, "beyond 0.5 the wrong digits are "
                        "taught as strongly as the right one"),
    "rotation_degrees": ("Rotation", 0.0, 45.0, "a 6 turned by more looks like a 9"),
    "zoom": ("Zoom", 0.0, 0.5, "more crops or shrinks digits beyond recognition"),
    "shift": ("Shift", 0.0, 0.3, "more pushes digits off the 28x28 field"),
}
MIN_LIMIT = 20


class ConfigError(ValueError):
    """A setting outside what can work; the message starts with the field's name."""


def check_range(name: str, value: Any, whole: bool = False) -> Any:
    """`value` if it is a number in RANGES[name]; ConfigError naming the field otherwise."""
    label, low, high, why = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (whole and isinstance(value, float) and not value.is_integer()):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{label} must be {kind} from {_plain(low)} to {_plain(high)}, "
                          f"not {short(value)}")
    # Compared before any float(): an integer of 400 digits (a hand-edited record) is simply
    # out of range, where float() of it would raise OverflowError.
    if not low <= value <= high or not math.isfinite(value):
        raise ConfigError(f"{label} must be from {_plain(low)} to {_plain(high)} ({why}), "
                          f"not {_number(value)}")
    return int(value) if whole else float(value)


def range_hint(name: str) -> str:
    """"From 0.000001 to 1: 0 learns nothing; above 1 Adam diverges." for help texts."""
    label, low, high, why = RANGES[name]
    return f"From {_plain(low)} to {_plain(high)}: {why}."


def _number(value: float) -> str:
    """A number for a message: 1e-07, 300, and a huge integer shortened, never an error."""
    return f"{value:g}" if isinstance(value, float) else short(value)


def _plain(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".") if x < 1 else f"{x:g}"


@dataclass(frozen=True)
class Augmentation:
    """Random geometric jitter applied to training batches only (never to validation/test)."""

    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, check_range(f.name, getattr(self, f.name)))


@dataclass(frozen=True)
class TrainConfig:
    """One run's full definition. A preset is one of these, written out in
    `mnist_core.training.presets` (which builds configs; this module knows no preset).

    The architecture is required. The other defaults are Keras' own, not a preset's: one epoch,
    batch 32, Adam at 1e-3 with a constant rate, no smoothing or augmentation."""

    spec: ModelSpec                   # the architecture
    preset: str = "custom"            # where the settings came from (a preset's name, "custom")
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    label_smoothing: float = 0.0
    augment: bool = False
    augmentation: Augmentation = field(default_factory=Augmentation)
    validation_fraction: float = 0.1
    limit: int | None = None
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.spec, ModelSpec):
            raise ConfigError("the architecture must be a ModelSpec")
        self.spec.table()  # the stack reaches 10 classes within the caps
        if not isinstance(self.preset, str) or not 0 < len(self.preset) <= 40:
            raise ConfigError("the preset name must be text of 1 to 40 characters")
        for name, whole in (("epochs", True), ("batch_size", True), ("learning_rate", False),
                            ("validation_fraction", False), ("label_smoothing", False)):
            object.__setattr__(self, name, check_range(name, getattr(self, name), whole))
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name.capitalize()} must be one of {', '.join(allowed)}, "
                                  f"not {short(getattr(self, name))}")
        if not isinstance(self.augment, bool):
            raise ConfigError(f"Augmentation must be on or off (true/false), "
                              f"not {short(self.augment)}")
        if not isinstance(self.augmentation, Augmentation):
            raise ConfigError("augmentation must be an Augmentation")
        if self.limit is not None and (isinstance(self.limit, bool) or
                                       not isinstance(self.limit, int) or self.limit < MIN_LIMIT):
            raise ConfigError(f"Training images must be a whole number of at least {MIN_LIMIT}, "
                              f"not {short(self.limit)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or \
                not 0 <= self.seed < 2 ** 31:
            raise ConfigError(f"Seed must be a whole number from 0 to {2 ** 31 - 1}, "
                              f"not {short(self.seed)}")

    def check_data(self, n_images: int) -> None:
        """The one check that needs the data: a batch must fit in the training images."""
        n_train = self.training_images(n_images)
        if self.batch_size > n_train:
            raise ConfigError(f"Batch size {self.batch_size} is larger than the {n_train:,} "
                              "training images; lower it or use more data")

    def training_images(self, n_images: int) -> int:
        """How many of `n_images` this config trains on (after the limit and validation)."""
        used = min(n_images, self.limit or n_images)
        return used - int(round(used * self.validation_fraction))

    # --- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, base: "TrainConfig | None" = None) -> "TrainConfig":
        """A config from a run record or model card, checked like any other input.

        A record without an architecture takes every field it lacks from `base` (the caller's
        choice: `presets.config_from_dict` passes the record's preset); without a `base` it is
        refused. A record for a run that was not a training (a fine-tune) is refused."""
        if not isinstance(data, dict):
            raise ConfigError("a run's config must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(map(str, unknown)))}")
        values = dict(data)
        if "spec" not in values:
            if base is None:
                raise ConfigError("this record holds no architecture")
            values = {**{f.name: getattr(base, f.name) for f in fields(cls)}, **values}
        else:
            values["spec"] = ModelSpec.from_dict(values["spec"])
        if isinstance(values.get("augmentation"), dict):
            aug = values["augmentation"]
            extra = set(aug) - {f.name for f in fields(Augmentation)}
            if extra:
                raise ConfigError(f"unknown augmentation field(s): {', '.join(sorted(extra))}")
            values["augmentation"] = Augmentation(**aug)
        try:
            return cls(**values)
        except SpecError:
            raise
        except (TypeError, ArithmeticError, RecursionError) as e:
            # e.g. a field that is a list where a number belongs: a reason, never a traceback
            raise ConfigError(f"this config cannot be read: {str(e)[:200]}") from None
