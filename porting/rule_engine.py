"""The rule engine: apply the rule table to a Keras model with full accounting of keys and variables."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence

import keras
import numpy as np

from tf_videoswin.errors import PortingError

from .rules import IGNORED, RULES, Ignore, Rule

logger = logging.getLogger(__name__)


def named_variables(layer: keras.layers.Layer, prefix: str = "") -> Iterator[tuple[str, keras.Variable]]:
    """``(attribute.path.var_name, variable)`` for every variable, addressed by attribute names.

    A layer's own variables (those not owned by a sub-layer) are named ``<path>.<variable.name>``;
    sub-layers are found through public attributes and lists of layers, never by position alone.
    """
    children: list[tuple[str, keras.layers.Layer]] = []
    # On Keras' PyTorch backend a layer is a torch Module, which keeps sub-layers in its own registry.
    attributes = {**vars(layer), **(vars(layer).get("_modules") or {})}
    for attr, value in attributes.items():
        if attr.startswith("_"):
            continue
        if isinstance(value, keras.layers.Layer):
            children.append((attr, value))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            children.extend(
                (f"{attr}.{i}", v) for i, v in enumerate(value) if isinstance(v, keras.layers.Layer)
            )
    owned_by_children = {id(v) for _, child in children for v in child.weights}
    for v in layer.weights:
        if id(v) not in owned_by_children:
            yield f"{prefix}{v.name}", v
    for attr, child in children:
        yield from named_variables(child, f"{prefix}{attr}.")


@dataclasses.dataclass
class PortReport:
    """What happened to every key and every variable."""

    assigned: list[tuple[str, str, tuple[int, ...]]] = dataclasses.field(default_factory=list)
    ignored: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unmatched_keys: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)
    missing_targets: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    shape_mismatches: list[tuple[str, tuple[int, ...], str, tuple[int, ...]]] = dataclasses.field(
        default_factory=list
    )
    double_assigned: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unassigned_variables: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.unmatched_keys
            or self.missing_targets
            or self.shape_mismatches
            or self.double_assigned
            or self.unassigned_variables
        )

    def problems(self) -> str:
        lines: list[str] = []

        def section(title: str, rows: list[str]) -> None:
            if rows:
                lines.append(f"{title} ({len(rows)}):")
                lines.extend(f"  {r}" for r in rows[:50])
                if len(rows) > 50:
                    lines.append(f"  ... and {len(rows) - 50} more")

        section("unexpected state_dict keys (no rule)", [f"{k} {list(s)}" for k, s in self.unmatched_keys])
        section("rules pointing at no Keras variable", [f"{k} -> {t}" for k, t in self.missing_targets])
        section(
            "shape mismatches",
            [f"{k} {list(s)} -> {t} expects {list(ts)}" for k, s, t, ts in self.shape_mismatches],
        )
        section("variables assigned twice", [f"{t} (again from {k})" for k, t in self.double_assigned])
        section(
            "Keras variables left unassigned (missing state_dict keys)",
            [f"{t} {list(s)}" for t, s in self.unassigned_variables],
        )
        return "\n".join(lines)


def port_weights(
    state_dict: Mapping[str, np.ndarray],
    model: keras.layers.Layer,
    rules: Sequence[Rule] = RULES,
    ignored: Sequence[Ignore] = IGNORED,
) -> PortReport:
    """Assign every mapped key to its variable; raise :class:`PortingError` unless one to one.

    Nothing is assigned unless the whole plan is consistent, so a failed port leaves the model as
    it was.
    """
    variables = dict(named_variables(model))
    report = PortReport()
    plan: list[tuple[keras.Variable, np.ndarray]] = []
    targeted: dict[str, str] = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        if any(ig.match(key) for ig in ignored):
            report.ignored.append((key, next(ig.reason for ig in ignored if ig.match(key))))
            continue
        rule = next((r for r in rules if r.match(key) is not None), None)
        if rule is None:
            report.unmatched_keys.append((key, tuple(value.shape)))
            continue
        target = rule.match(key)
        if target not in variables:
            report.missing_targets.append((key, target))
            continue
        if target in targeted:
            report.double_assigned.append((key, target))
            continue
        targeted[target] = key
        var = variables[target]
        new = rule.transform(value)
        if tuple(new.shape) != tuple(var.shape):
            report.shape_mismatches.append((key, tuple(value.shape), target, tuple(var.shape)))
            continue
        plan.append((var, new))
        report.assigned.append((key, target, tuple(new.shape)))
    report.unassigned_variables = [(n, tuple(v.shape)) for n, v in variables.items() if n not in targeted]
    if not report.ok:
        raise PortingError("state_dict does not match the model:\n" + report.problems())
    for var, new in plan:
        var.assign(new.astype(var.dtype))
    logger.info("assigned %d variables, ignored %d derived keys", len(report.assigned), len(report.ignored))
    return report
