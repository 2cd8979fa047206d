"""The forward and backward passes of a graph of layers, and the loss over a model's outputs.

The forward pass runs the nodes in topological order; each call of a layer gets its own
:class:`~anynet.params.Slots` (the same parameter views, its own gradients), so a layer
called twice adds up the gradients of its calls. The backward pass runs the closures in
reverse, summing dY where a tensor feeds several layers, and skips every node whose
inputs depend on no parameter.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from anynet.params import Slots

__all__ = ["forward", "backward", "Result", "value_and_grad"]


class Result(NamedTuple):
    """A pass over a batch: total ``loss`` (0-d), flat ``grad`` (or None), per output: the
    outputs ``Y``, the targets ``T`` as the losses use them, and each output's unweighted loss."""

    loss: Any
    grad: Any
    Y: list[Any]
    T: list[Any]
    losses: list[Any]


def forward(model: Any, theta: Any, X: tuple[Any, ...], ctx: Any, raw: frozenset[int] = frozenset()
            ) -> tuple[dict[int, Any], list[tuple[Any, Any, Slots]], dict[int, Slots]]:
    """Return ``(values by tensor id, tape of (node, backprop, slots), parameter views by layer index)``.

    ``raw`` holds the ids of nodes to run without their activation (fused into the loss).
    """
    graph, index = model._graph, model._index
    views = model.layout.slots(theta, ctx.xp)
    values = {id(t): x for t, x in zip(graph.inputs, X)}
    tape = []
    for node in graph.nodes:
        if id(node.output) in values:
            continue
        layer = node.layer
        P = Slots()
        shared = views.get(index.get(id(layer), -1))
        if shared is not None:
            P.values = shared.values
        args = [values[id(t)] for t in node.inputs]
        Y, bp = layer.forward(P, args if layer.multi_input else args[0], ctx, activate=id(node) not in raw)
        values[id(node.output)] = Y
        tape.append((node, bp, P))
    return values, tape, views


def backward(graph: Any, tape: list[tuple[Any, Any, Slots]], dOut: dict[int, Any]) -> None:
    """Run the tape backwards from ``dOut`` (dLoss/dY by output tensor id); gradients land in the slots."""
    grads = dict(dOut)
    needs = graph.needs_grad
    for node, bp, _ in reversed(tape):
        dY = grads.pop(id(node.output), None)
        if dY is None or not needs[id(node.output)]:
            continue
        need = [needs[id(t)] for t in node.inputs]
        dX = bp(dY, any(need))
        if not any(need):
            continue
        for t, d, n in zip(node.inputs, dX if node.layer.multi_input else [dX], need):
            if n and d is not None:
                grads[id(t)] = grads[id(t)] + d if id(t) in grads else d


def value_and_grad(model: Any, theta: Any, X: tuple[Any, ...], y: tuple[Any, ...], ctx: Any, *,
                   grad: bool = True, sample_weight: tuple[Any, ...] | None = None) -> Result:
    """Return the :class:`Result` of ``model``'s compiled losses at ``theta`` on prepared data.

    ``theta`` may have another floating dtype than the model's (the gradient check runs in
    float64); X is cast to it. Regularization penalties of the model's layers are included.
    ``sample_weight`` holds one weight array (or None) per output, passed to its loss.
    """
    xp, graph, heads = ctx.xp, model._graph, model.heads
    X = tuple(xp.astype(x, theta.dtype) if x.dtype != theta.dtype else x for x in X)
    raw = frozenset(id(t.node) for t, h in zip(graph.outputs, heads)
                    if h.fused and not graph.consumers.get(id(t)) and id(t.node.output) not in
                    {id(i) for i in graph.inputs})
    values, tape, views = forward(model, theta, X, ctx, raw)
    total, dOut, Ys, Ts, per = None, {}, [], [], []
    weights = sample_weight if sample_weight is not None else (None,) * len(heads)
    for t, head, yk, wk in zip(graph.outputs, heads, y, weights):
        H = values[id(t)]
        T = head.loss.targets(yk, H.shape[head.loss.axis] if H.ndim > 1 else 1, xp, theta.dtype)
        if wk is not None and wk.dtype != theta.dtype:
            wk = xp.astype(wk, theta.dtype)
        kw = {} if wk is None else {"sample_weight": wk}  # a loss of one's own may not take weights
        if id(t.node) in raw:
            loss, dH, Y = head.loss.logits_value_and_grad(H, T, xp, kernels=ctx.kernels, **kw)  # kernels hook
        else:
            loss, dH = head.loss.value_and_grad(H, T, xp, **kw)
            Y = H
        w = head.weight
        total = (loss if w == 1.0 else loss * w) if total is None else total + (loss if w == 1.0 else loss * w)
        dOut[id(t)] = dH if w == 1.0 else dH * w
        Ys.append(Y), Ts.append(T), per.append(loss)
    specs = model._own_specs()
    for s in specs:
        if s.regularizer is not None:
            total = total + s.regularizer.penalty(views[s.layer][s.name], xp)
    if not grad:
        return Result(total, None, Ys, Ts, per)
    backward(graph, tape, dOut)
    by_layer: dict[int, list[Slots]] = {}
    for node, _, P in tape:
        if P.grads:
            by_layer.setdefault(model._index[id(node.layer)], []).append(P)
    own = {id(s) for s in specs}
    parts = []
    for s in model.layout:
        got = [P.grads[s.name] for P in by_layer.get(s.layer, ()) if s.name in P.grads] if id(s) in own else []
        if not got:
            G = xp.zeros(s.shape, dtype=theta.dtype, device=_device(theta))
        else:
            G = got[0]
            for g in got[1:]:
                G = G + g
        if s.regularizer is not None and id(s) in own:
            G = G + s.regularizer.gradient(views[s.layer][s.name], xp)
        parts.append(xp.reshape(G, (-1,)))
    if not parts:  # a model without parameters (only Dropout, Activation, ...): nothing to train
        return Result(total, xp.zeros((0,), dtype=theta.dtype, device=_device(theta)), Ys, Ts, per)
    concat = ctx.kernels.get("flat_concat")  # kernels hook: the gradient into a buffer kept for the epoch
    return Result(total, concat(parts, ctx.scratch) if concat is not None else xp.concat(parts), Ys, Ts, per)


def _device(x: Any) -> Any:
    return x.device
