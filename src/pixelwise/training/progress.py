"""Progress bars (tqdm) that switch off cleanly on non-main ranks and in tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


class _Silent:
    def __init__(self, iterable: Iterable[T] | None) -> None:
        self._iterable = iterable if iterable is not None else ()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable)

    def update(self, count: int = 1) -> None:
        pass

    def set_postfix(self, **_: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    initial: int = 0,
    desc: str = "",
    enabled: bool = True,
    unit: str = "batch",
) -> Any:
    """A tqdm bar over ``iterable`` (or updated by hand when None) showing ``desc``; a silent
    pass-through when disabled."""
    if not enabled:
        return _Silent(iterable)
    return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True)
