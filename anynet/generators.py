"""A model's random generators: one stream for unseeded layers, and one per seeded layer.

Keras' ``Dropout(rate, seed=s)`` draws its masks from a generator of its own, started
from ``s``: its masks repeat from run to run whatever the model's seed, and adding or
removing other random layers does not change them. The model keeps that generator here,
next to its own, so the exact replay after a bad batch, saving and resuming restore
every stream together. Every generator is the backend adapter's (``adapter.rng``), so
the masks come from the same code on each backend and never from global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["Generators", "State"]


class State(NamedTuple):
    """The state of a :class:`Generators` whose seeded layers have drawn: the model's own
    stream's state and each seeded layer's, by layer name."""

    main: Any
    layers: dict[str, Any]


class Generators:
    """The model's generator (its methods are the adapter generator's) plus the seeded layers'.

    ``uniform``, ``normal``, ``bernoulli`` and ``permutation`` draw from the model's own
    stream, started from the model's seed; :meth:`for_layer` returns a seeded layer's.
    """

    def __init__(self, backend: Any, seed: int | None, device: Any) -> None:
        self.backend, self.device = backend, device
        self.main = backend.rng(seed, device)
        self.layers: dict[str, Any] = {}

    # -- the model's own stream -----------------------------------------------------------
    def uniform(self, shape: Sequence[int], **kwargs: Any) -> Any:
        return self.main.uniform(shape, **kwargs)

    def normal(self, shape: Sequence[int], **kwargs: Any) -> Any:
        return self.main.normal(shape, **kwargs)

    def bernoulli(self, shape: Sequence[int], p: float, **kwargs: Any) -> Any:
        return self.main.bernoulli(shape, p, **kwargs)

    def permutation(self, n: int) -> Any:
        return self.main.permutation(n)

    # -- the seeded layers' streams --------------------------------------------------------
    def for_layer(self, name: str, seed: int) -> Any:
        """Return the generator of the seeded layer ``name``; its first use starts it from ``seed``."""
        gen = self.layers.get(name)
        if gen is None:
            gen = self.layers[name] = self.backend.rng(seed, self.device)
        return gen

    def restore_layer(self, name: str, state: Any) -> None:
        """Set the seeded layer ``name``'s generator to ``state`` (from its ``get_state()``)."""
        gen = self.backend.rng(0, self.device)
        gen.set_state(state)
        self.layers[name] = gen

    # -- every stream at once ---------------------------------------------------------------
    def get_state(self) -> Any:
        """Return the model stream's state alone while no seeded layer has drawn, else a :class:`State`."""
        main = self.main.get_state()
        if not self.layers:
            return main
        return State(main, {name: gen.get_state() for name, gen in self.layers.items()})

    def set_state(self, state: Any) -> None:
        """Restore what :meth:`get_state` returned; seeded layers that had not drawn then start afresh."""
        if isinstance(state, State):
            self.main.set_state(state.main)
            self.layers = {}
            for name, s in state.layers.items():
                self.restore_layer(name, s)
        else:
            self.main.set_state(state)
            self.layers = {}
