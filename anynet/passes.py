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
from anynet.plan import plan_for

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
    The graph walk is :func:`forward` and :func:`backward` with the bookkeeping done once,
    in a :class:`~anynet.plan.Plan` the context keeps.
    """
    xp, plan = ctx.xp, plan_for(model, ctx)
    dtype = theta.dtype
    values: list[Any] = [None] * plan.n_tensors
    for i, x in enumerate(X):
        values[i] = xp.astype(x, dtype) if x.dtype != dtype else x
    views: dict[int, dict[str, Any]] = {}
    for i, entries in plan.views.items():
        d = views[i] = {}
        for name, a, b, shape in entries:
            d[name] = theta[a:b] if shape is None else xp.reshape(theta[a:b], shape)
    kernels = ctx.kernels
    outs: dict[int, dict[str, Any]] = {}
    if grad and plan.direct and ctx.scratch is not None:  # kernels hook: gradients written in place
        buf = kernels["grad_buffer"](plan.size, dtype, ctx.scratch)
        if plan.placed is not None and plan.placed[0] is buf:  # the same buffer as the last batch's
            outs = plan.placed[1]
        else:
            for i, entries in plan.direct.items():
                outs[i] = {name: buf[a:b] if shape is None else xp.reshape(buf[a:b], shape)
                           for name, a, b, shape in entries}
            plan.placed = (buf, outs)
    tape: list[tuple[Any, Slots]] = []
    for layer, i, ins, out, multi, activate in plan.steps:
        P = Slots()
        shared = views.get(i)
        if shared is not None:
            P.values = shared
            P.out = outs.get(i)
        Y, bp = layer.forward(P, [values[k] for k in ins] if multi else values[ins[0]], ctx, activate=activate)
        values[out] = Y
        tape.append((bp, P))
    total, dOut, Ys, Ts, per = None, [], [], [], []
    weights = sample_weight if sample_weight is not None else (None,) * len(plan.heads)
    for (k, head, raw), yk, wk in zip(plan.heads, y, weights):
        H = values[k]
        loss_fn = head.loss
        T = loss_fn.targets(yk, H.shape[loss_fn.axis] if H.ndim > 1 else 1, xp, dtype)
        if wk is not None and wk.dtype != dtype:
            wk = xp.astype(wk, dtype)
        kw = {} if wk is None else {"sample_weight": wk}  # a loss of one's own may not take weights
        if raw:
            loss, dH, Y = loss_fn.logits_value_and_grad(H, T, xp, kernels=kernels, **kw)  # kernels hook
        else:
            loss, dH = loss_fn.value_and_grad(H, T, xp, **kw)
            Y = H
        w = head.weight
        total = (loss if w == 1.0 else loss * w) if total is None else total + (loss if w == 1.0 else loss * w)
        dOut.append((k, dH if w == 1.0 else dH * w))
        Ys.append(Y), Ts.append(T), per.append(loss)
    for s in plan.penalties:
        total = total + s.regularizer.penalty(views[s.layer][s.name], xp)
    if not grad:
        return Result(total, None, Ys, Ts, per)
    grads: list[Any] = [None] * plan.n_tensors
    for k, d in dOut:
        grads[k] = d
    for j, out, ins, need, any_need, multi in plan.back:
        dY = grads[out]
        if dY is None:
            continue
        grads[out] = None
        dX = tape[j][0](dY, any_need)
        if not any_need:
            continue
        for t, d, n in zip(ins, dX if multi else (dX,), need):
            if n and d is not None:
                g = grads[t]
                grads[t] = d if g is None else g + d
    parts = []
    placed = bool(outs)  # every gradient already in its place in the buffer: nothing to gather
    for s, calls, own in plan.grads:
        name = s.name
        G = None
        for c in calls:
            got = tape[c][1].grads.get(name)
            if got is not None:
                G = got if G is None else G + got
        if G is None:
            G = xp.zeros(s.shape, dtype=dtype, device=_device(theta))
        if own and s.regularizer is not None:
            G = G + s.regularizer.gradient(views[s.layer][name], xp)
        if placed:
            o = outs.get(s.layer)
            placed = o is not None and o.get(name) is G
        parts.append(xp.reshape(G, (-1,)) if G.ndim != 1 else G)
    if placed:
        return Result(total, buf, Ys, Ts, per)
    if not parts:  # a model without parameters (only Dropout, Activation, ...): nothing to train
        return Result(total, xp.zeros((0,), dtype=dtype, device=_device(theta)), Ys, Ts, per)
    concat = kernels.get("flat_concat")  # kernels hook: the gradient into a buffer kept for the epoch
    return Result(total, concat(parts, ctx.scratch) if concat is not None else xp.concat(parts), Ys, Ts, per)


def _device(x: Any) -> Any:
    return x.device
