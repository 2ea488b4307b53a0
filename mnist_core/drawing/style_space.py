"""The space handwriting is drawn from: every varying quantity of a drawing is a named knob.

A style template (`mnist_core.drawing.styles`) and a writer (`handwriting.Writer`) take each
quantity that varies between drawings (a 1's flag length, a writer's slant) from a `Params`:
`p.u("flag_length", 0.3, 1.0)`. Each knob is a position t in [0, 1] mapped linearly onto its
range, so that every knob of every style can be searched and restricted alike:

- drawn freely, t is uniform on [0, 1]: the "uniform" drawings of the widened space;
- within a `Region` (knob name -> (lo, hi) sub-interval of [0, 1]), t is uniform on that
  sub-interval: the drawings of a hard corner of the space the failure search found
  (`mnist_core.drawing.style_search`), for training more there or evaluating there.

`Params.drawn` records every knob's t, so that a drawing's failure can be traced back to where
in the space it was drawn. A yes/no choice is a knob too (`p.chance`), so it can be searched.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Region = Mapping[str, tuple[float, float]]
"""Knob name -> (lo, hi) within [0, 1]; knobs not named are drawn over their whole range."""


class Params:
    """One drawing's knobs, drawn from `rng` (uniformly, or within `region`)."""

    def __init__(self, rng: np.random.Generator, region: Region | None = None,
                 prefix: str = "") -> None:
        self.rng = rng
        self.region = dict(region or {})
        self.prefix = prefix
        self.drawn: dict[str, float] = {}
        self.ranges: dict[str, tuple[float, float]] = {}    # knob -> its value's range
        # The writer's width and slant, for a shape whose drawn angle is what varies (a 1's
        # flag): (aspect, slant), set by the drawing before the template runs.
        self.frame: tuple[float, float] = (1.0, 0.0)

    def t(self, name: str) -> float:
        """The knob's position in [0, 1] (drawn once per drawing, then remembered)."""
        key = self.prefix + name
        if key not in self.drawn:
            lo, hi = self.region.get(key, (0.0, 1.0))
            self.drawn[key] = float(self.rng.uniform(lo, hi))
        return self.drawn[key]

    def u(self, name: str, lo: float, hi: float) -> float:
        """The knob's value in [lo, hi]."""
        self.ranges[self.prefix + name] = (lo, hi)
        return lo + self.t(name) * (hi - lo)

    def chance(self, name: str, probability: float) -> bool:
        """A yes/no knob that says yes for the first `probability` of its range."""
        self.ranges[self.prefix + name] = (0.0, 1.0)
        return self.t(name) < probability

    def scoped(self, prefix: str) -> "Params":
        """The same drawing's knobs under a name prefix (the writer's are "writer.")."""
        child = Params(self.rng, self.region, self.prefix + prefix)
        child.drawn, child.ranges = self.drawn, self.ranges
        return child


def free(rng: np.random.Generator) -> Params:
    """Knobs drawn over their whole ranges."""
    return Params(rng)


def describe(region: Region, ranges: Mapping[str, tuple[float, float]] | None = None) -> str:
    """A region in words, in the knobs' own units where `ranges` knows them:
    'flag_angle 20-37, writer.slant -0.40 to -0.20'."""
    def part(name: str, lo: float, hi: float) -> str:
        if ranges and name in ranges:
            a, b = ranges[name]
            return f"{name} {a + lo * (b - a):.3g} to {a + hi * (b - a):.3g}"
        return f"{name} {100 * lo:.0f}-{100 * hi:.0f}% of its range"
    return ", ".join(part(n, lo, hi) for n, (lo, hi) in sorted(region.items())) \
        or "the whole space"
