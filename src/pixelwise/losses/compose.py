"""Weighted sums of losses."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class CompositeLoss(nn.Module):
    """``L = sum_k weight_k * loss_k(logits, target)``.

    ``terms`` is a sequence of ``(weight, loss)`` pairs; each term is named by the loss's
    registry name (``loss.name``) or class name, de-duplicated with a suffix. After each call,
    ``last_values`` maps the names to the detached, unweighted term values (for logging).
    """

    def __init__(self, terms: Sequence[tuple[float, nn.Module]]) -> None:
        super().__init__()
        if len(terms) == 0:
            raise ValueError("CompositeLoss needs at least one (weight, loss) term")
        names: list[str] = []
        weights: list[float] = []
        losses = nn.ModuleList()
        for position, term in enumerate(terms):
            if not (isinstance(term, tuple | list) and len(term) == 2):
                raise ValueError(f"term {position} must be a (weight, loss) pair; got {term!r}")
            weight, loss = term
            if not isinstance(loss, nn.Module):
                raise TypeError(f"term {position}: loss must be an nn.Module; got {type(loss)}")
            base = getattr(loss, "name", "") or type(loss).__name__
            name, suffix = base, 2
            while name in names:
                name, suffix = f"{base}_{suffix}", suffix + 1
            names.append(name)
            weights.append(float(weight))
            losses.append(loss)
        self.names = names
        self.weights = weights
        self.losses = losses
        self.last_values: dict[str, Tensor] = {}

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        total: Tensor | None = None
        values: dict[str, Tensor] = {}
        for name, weight, loss in zip(self.names, self.weights, self.losses):
            value = loss(logits, target)
            values[name] = value.detach()
            total = weight * value if total is None else total + weight * value
        self.last_values = values
        assert total is not None
        return total

    def extra_repr(self) -> str:
        return ", ".join(f"{w:g}*{n}" for n, w in zip(self.names, self.weights))


__all__ = ["CompositeLoss"]
