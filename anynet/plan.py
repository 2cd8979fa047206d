"""A training step's bookkeeping, worked out once per pass context instead of once per batch.

What :func:`anynet.passes.value_and_grad` needs besides the arrays does not change from one
batch to the next: the nodes to run and where each reads and writes its tensors, which
nodes run without their activation (fused into the loss), the slices of the flat vector
each layer views, which tensors backprop must reach, and where each parameter's gradients
come from. A :class:`Plan` holds that, with tensors numbered by position (lists, not dicts
keyed by ``id``). The training loop's context keeps one for the epoch; any other pass
builds one for itself. It is the same computation, in the same order, as the general
graph walk in :mod:`anynet.passes`, so results are bit-identical.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Plan", "plan_for"]


class Plan:
    """The fixed structure of one model's training pass (see the module docstring)."""

    def __init__(self, model: Any, kernels: Any = None) -> None:
        graph, heads, index = model._graph, model.heads, model._index
        self.key = (model, graph, heads, model.layout, index, model._source)
        inputs = {id(t): i for i, t in enumerate(graph.inputs)}
        slot = dict(inputs)  # id(tensor) -> its position in the values list
        self.n_inputs = len(graph.inputs)
        # nodes whose output is a model input are not run (the input is given)
        run = [n for n in graph.nodes if id(n.output) not in inputs]
        for n in run:
            slot[id(n.output)] = len(slot)
        self.n_tensors = len(slot)
        fused = {id(t.node) for t, h in zip(graph.outputs, heads)
                 if h.fused and not graph.consumers.get(id(t)) and id(t.node.output) not in inputs}
        needs = graph.needs_grad
        # forward: (layer, layer index or -1, input positions, output position, multi_input, activate)
        self.steps = [(n.layer, index.get(id(n.layer), -1), tuple(slot[id(t)] for t in n.inputs),
                       slot[id(n.output)], n.layer.multi_input, id(n) not in fused) for n in run]
        # backward, in reverse tape order: (tape position, output position, input positions,
        # which inputs need a gradient, whether any does, multi_input); nodes whose output
        # needs no gradient are left out (the general walk skips them)
        self.back = []
        for k in range(len(run) - 1, -1, -1):
            n = run[k]
            if not needs[id(n.output)]:
                continue
            need = tuple(needs[id(t)] for t in n.inputs)
            self.back.append((k, slot[id(n.output)], tuple(slot[id(t)] for t in n.inputs), need, any(need),
                              n.layer.multi_input))
        # the views each layer reads: layer index -> [(name, start, stop, shape or None for 1-D)]
        used = {i for _, i, *_ in self.steps if i >= 0}
        self.views: dict[int, list[tuple[str, int, int, Any]]] = {}
        for s in model.layout:
            if s.layer in used:
                self.views.setdefault(s.layer, []).append(
                    (s.name, s.offset, s.stop, None if len(s.shape) == 1 else s.shape))
        specs = model._own_specs()
        self.penalties = [s for s in specs if s.regularizer is not None]
        own = {id(s) for s in specs}
        calls: dict[int, list[int]] = {}  # layer index -> tape positions of its calls
        for k, (_, i, *_rest) in enumerate(self.steps):
            calls.setdefault(i, []).append(k)
        # layers called once whose parameters are all this model's may have their gradients
        # written straight into the flat gradient buffer, where the backend has the kernels
        once = [i for i, ks in calls.items() if len(ks) == 1 and i in self.views]
        can = kernels is not None and all(k in kernels for k in ("grad_buffer", "matmul_into", "sum_rows_into"))
        self.size = model.layout.size
        self.direct = {i: self.views[i] for i in once
                       if all(id(s) in own for s in model.layout if s.layer == i)} if can else {}
        # (buffer, its views by layer) of the last pass that wrote gradients in place
        self.placed: tuple[Any, dict[int, dict[str, Any]]] | None = None
        # heads: (output position, head, fused)
        self.heads = [(slot[id(t)], h, id(t.node) in fused) for t, h in zip(graph.outputs, heads)]
        # gradient assembly, in layout order: (spec, tape positions of its layer's calls, own)
        self.grads = [(s, tuple(calls.get(s.layer, ())) if id(s) in own else (), id(s) in own) for s in model.layout]

    def valid_for(self, model: Any) -> bool:
        """Return whether this plan still describes ``model`` (nothing was rebuilt or recompiled)."""
        k = self.key
        return (k[0] is model and k[1] is model._graph and k[2] is model.heads and k[3] is model.layout
                and k[4] is model._index and k[5] is model._source)


def plan_for(model: Any, ctx: Any) -> Plan:
    """Return the plan kept in ``ctx`` for ``model``, making it when missing or out of date."""
    plan = getattr(ctx, "plan", None)
    if plan is None or not plan.valid_for(model):
        plan = Plan(model, getattr(ctx, "kernels", None))
        try:
            ctx.plan = plan
        except AttributeError:  # a context of another kind: plan every pass
            pass
    return plan
