"""The evaluation network of the PyTorch peer (`deno task bench --eval --peer`): DARTS' NetworkCIFAR built
from the spec that runtime/cli/_bench_peer.ts writes from a compiled space and its found cells, and its
training step, timed as runtime/loops/train.ts's step is.

The spec (JSON) names every op by its steps (dsl/ir.ts `stepsAt`: relu, conv, dw_conv, conv_1x1, batch_norm,
max_pool, avg_pool, identity, zero, factorized_reduce, each with its stride), so any found cell builds
here as it does in runtime/nets/evaluation_network.ts: a 3x3 conv stem and an affine batch norm, cells whose
inputs are preprocessed by ReLUConvBN (FactorizedReduce after a reduction), one module per kept edge,
drop-path on every edge that is not a stride-1 identity, the concatenated nodes as the cell's output, the
auxiliary head after the last reduction, global average pooling and a linear classifier.

One step: forward (drop-path active), cross-entropy with label smoothing plus the weighted auxiliary loss,
backward, the gradient norm clipped, SGD with momentum, weight decay and Nesterov, the loss read back.
Used by peer_torch.py (`--eval SPEC`); it imports torch itself, so only after peer_torch.py checked it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def batch_norm(c):
    return nn.BatchNorm2d(c, affine=True)  # evaluation: every batch norm affine (DARTS model.py)


class FactorizedReduce(nn.Module):
    """DARTS' FactorizedReduce: relu, two 1x1 stride-2 convs (the second on x[:, :, 1:, 1:]), concat, BN."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = batch_norm(c_out)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)


def step_module(step, c):
    """One strided step of an op on c channels (runtime/nets/ops.ts stepModule)."""
    kind, s = step["kind"], step["stride"]
    if kind == "relu":
        return nn.ReLU()
    if kind in ("conv", "dw_conv"):
        k, d = step["kernel"], step["dilation"]
        groups = c if kind == "dw_conv" else step["groups"]
        return nn.Conv2d(c, c, k, s, d * (k - 1) // 2, dilation=d, groups=groups, bias=False)
    if kind == "conv_1x1":
        return nn.Conv2d(c, c, 1, s, bias=False)
    if kind == "batch_norm":
        return batch_norm(c)
    if kind == "max_pool":
        return nn.MaxPool2d(step["kernel"], s, (step["kernel"] - 1) // 2)
    if kind == "avg_pool":
        return nn.AvgPool2d(step["kernel"], s, (step["kernel"] - 1) // 2, count_include_pad=False)
    if kind == "identity":
        return nn.Identity() if s == 1 else FactorizedReduce(c, c)
    if kind == "zero":
        return Zero(s)
    if kind == "factorized_reduce":
        if s == 2:
            return FactorizedReduce(c, c)
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1, bias=False), batch_norm(c))
    raise ValueError(f"peer_torch_eval.py: unknown step kind {kind!r}")


def operation(steps, c):
    modules = [step_module(step, c) for step in steps]
    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)


def relu_conv_bn(c_in, c_out):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), batch_norm(c_out))


def drop_path(x, p):
    """DARTS utils.drop_path: each sample zeroed with probability p, the kept ones scaled by 1/(1 - p)."""
    keep = 1.0 - p
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device).bernoulli_(keep)
    return x.div(keep).mul(mask)


class Cell(nn.Module):
    def __init__(self, cell, c_pp, c_p, c, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else relu_conv_bn(c_pp, c)
        self.pre1 = relu_conv_bn(c_p, c)
        self.edges = cell["edges"]  # from: 0 prev_prev, 1 prev, 2 + n node n (DARTS' numbering)
        self.nodes = cell["nodes"]
        self.concat = cell["concat"]
        self.ops = nn.ModuleList([operation(e["steps"], c) for e in self.edges])
        self.droppable = [not all(s["kind"] == "identity" and s["stride"] == 1 for s in e["steps"])
                          and not any(s["kind"] == "zero" for s in e["steps"]) for e in self.edges]
        self.multiplier = len(self.concat)

    def forward(self, s0, s1, drop_prob):
        states = [self.pre0(s0), self.pre1(s1)]
        for n in range(self.nodes):
            acc = None
            for e, edge in enumerate(self.edges):
                if edge["to"] != n:
                    continue
                h = self.ops[e](states[edge["from"]])
                if self.training and drop_prob > 0 and self.droppable[e]:
                    h = drop_path(h, drop_prob)
                acc = h if acc is None else acc + h
            states.append(acc)
        return torch.cat([states[2 + n] for n in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS' AuxiliaryHeadCIFAR (8x8 input): relu, 5x5/3 average pool, 1x1 conv 128, BN, relu, 2x2 conv 768,
    BN, relu, linear."""

    def __init__(self, c, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), batch_norm(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), batch_norm(768), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class EvaluationNetwork(nn.Module):
    """DARTS' NetworkCIFAR from a spec: channels, cells, reductions, the head's place, the two cell types."""

    def __init__(self, spec):
        super().__init__()
        c = spec["channels"]
        c_curr = spec["stemMultiplier"] * c
        self.stem = nn.Sequential(nn.Conv2d(spec["inputChannels"], c_curr, 3, padding=1, bias=False),
                                  batch_norm(c_curr))
        c_pp, c_p = c_curr, c_curr
        self.cells = nn.ModuleList()
        self.auxiliary_after = spec["auxiliaryAfter"] if spec["auxiliary"] else None
        self.auxiliary = None
        reduction_prev = False
        for i in range(spec["cells"]):
            reduction = i in spec["reductions"]
            if reduction:
                c *= 2
            cell = Cell(spec["reduction" if reduction else "normal"], c_pp, c_p, c, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c
            if i == self.auxiliary_after:
                self.auxiliary = AuxiliaryHead(c_p, spec["classes"])
        self.classifier = nn.Linear(c_p, spec["classes"])
        self.drop_prob = 0.0

    def forward(self, x):
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_prob)
            if i == self.auxiliary_after and self.training and self.auxiliary is not None:
                aux = self.auxiliary(s1)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1)), aux

    def parameter_count(self, auxiliary=False):
        head = set(id(p) for p in self.auxiliary.parameters()) if self.auxiliary is not None else set()
        return sum(p.numel() for p in self.parameters() if auxiliary or id(p) not in head)


class Training:
    """The training step of runtime/loops/train.ts on one fixed batch (no augmentation)."""

    def __init__(self, net, spec, batch, device, memory_format):
        self.net = net
        self.spec = spec
        sgd = spec["sgd"]
        self.sgd = torch.optim.SGD(net.parameters(), lr=sgd["lr"], momentum=sgd["momentum"],
                                   weight_decay=sgd["weightDecay"], nesterov=sgd["nesterov"])
        g = torch.Generator().manual_seed(0)
        size = spec["imageSize"]
        self.x = torch.randn(batch, spec["inputChannels"], size, size, generator=g).to(
            device, memory_format=memory_format)
        self.y = torch.randint(0, spec["classes"], (batch,), generator=g).to(device)
        net.drop_prob = spec["dropPath"]
        net.train()

    def step(self):
        spec = self.spec
        self.sgd.zero_grad(set_to_none=True)
        logits, aux = self.net(self.x)
        smoothing = spec["labelSmoothing"]
        loss = F.cross_entropy(logits, self.y, label_smoothing=smoothing)
        if aux is not None and spec["auxiliaryWeight"] > 0:
            loss = loss + spec["auxiliaryWeight"] * F.cross_entropy(aux, self.y, label_smoothing=smoothing)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), spec["sgd"]["gradClip"])
        self.sgd.step()
        return [loss.item()]  # the read back ours does too (and a CUDA sync)
