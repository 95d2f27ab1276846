#!/usr/bin/env python3
"""The PyTorch peer of `deno task bench`: the same DARTS supernet as spaces/darts.space, timed the same way.

It builds what runtime/nets/supernet.ts builds for spaces/darts.space (DARTS' model_search.Network with
C = 16, 8 cells, reductions at 1/3 and 2/3, 4 nodes, 14 edges x 8 ops, stem multiplier 3): batch norms
without affine parameters except the stem's, a non-affine batch norm after each pooling op, a stride-2
skip_connect as FactorizedReduce, and no work for `none` (its alpha still enters the softmax). One
first-order search step is a w step (SGD, momentum 0.9, weight decay 3e-4, gradient norm clipped to 5) on
one batch and an alpha step (Adam, lr 3e-4, betas (0.5, 0.999), weight decay 1e-3) on another, each
reading its loss back as ours does; the alpha step computes no weight gradients (autograd.grad on alpha
only), as ours does not. With one op left per edge no alpha is left to learn and the step is only the w step.

Prints one JSON object on stdout. Runs on PyTorch 1.13 (Debian python3-torch) and 2.x, CPU or CUDA.

    python3 runtime/cli/peer_torch.py --batch 8 --threads 2 --json
    python3 runtime/cli/peer_torch.py --params-only
    python3 runtime/cli/peer_torch.py --eval spec.json --batch 32   # an evaluation network's training step

With `--eval SPEC` it times the training step of an evaluation network instead (peer_torch_eval.py; the
spec is the JSON file runtime/cli/_bench_peer.ts writes), reporting its weights without the auxiliary head.
"""

import argparse
import json
import os
import resource
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # the caller (bench.ts) tries another interpreter on exit code 3
    print(f"peer_torch.py: {sys.executable} has no torch (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)

# spaces/darts.space: the candidates in order, the supernet and the search settings.
CANDIDATES = [
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
]
CHANNELS, CELLS, NODES, STEM_MULTIPLIER, CLASSES, SIZE = 16, 8, 4, 3, 10, 32
SGD = dict(lr=0.025, momentum=0.9, weight_decay=3e-4)
GRAD_CLIP = 5.0
ADAM = dict(lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)


def bn(c, affine=False):
    return nn.BatchNorm2d(c, affine=affine)  # PyTorch's momentum 0.1, eps 1e-5, as runtime/nets/ops.ts


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, bias=False), bn(c_out))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = bn(c_out)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def sep_conv(c, k, stride):
    p = (k - 1) // 2
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(c, c, k, stride, p, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False), bn(c),
        nn.ReLU(), nn.Conv2d(c, c, k, 1, p, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False), bn(c),
    )


def dil_conv(c, k, stride, dilation=2):
    p = dilation * (k - 1) // 2
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(c, c, k, stride, p, dilation=dilation, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False), bn(c),
    )


def operation(name, c, stride):
    """One candidate as a module; None for `none` (it adds nothing)."""
    if name == "none":
        return None
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), bn(c))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False), bn(c))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name.startswith("sep_conv_"):
        return sep_conv(c, int(name[-1]), stride)
    if name.startswith("dil_conv_"):
        return dil_conv(c, int(name[-1]), stride)
    raise ValueError(f"unknown op {name!r}")


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.ops = nn.ModuleList([m or nn.Identity() for m in (operation(n, c, stride) for n in CANDIDATES)])
        self.alive = [i for i, n in enumerate(CANDIDATES) if n != "none"]

    def forward(self, x, phi):
        if phi is None:  # a single op left: no weighting, as supernet.ts's mixedOp
            return self.ops[self.alive[0]](x)
        out = None
        for i in self.alive:
            y = self.ops[i](x) * phi[i]
            out = y if out is None else out + y
        return out

    def keep_only(self, name):
        self.alive = [CANDIDATES.index(name)]
        for i in range(len(CANDIDATES)):
            if i not in self.alive:
                self.ops[i] = nn.Identity()  # pruned: its weights leave the network


class Cell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1)
        self.edges = nn.ModuleList()
        for n in range(NODES):
            for j in range(2 + n):
                self.edges.append(MixedOp(c, 2 if reduction and j < 2 else 1))

    def forward(self, s0, s1, phis):
        states = [self.pre0(s0), self.pre1(s1)]
        e = 0
        for n in range(NODES):
            terms = []
            for j in range(2 + n):
                terms.append(self.edges[e](states[j], None if phis is None else phis[e]))
                e += 1
            out = terms[0]
            for t in terms[1:]:
                out = out + t
            states.append(out)
        return torch.cat(states[2:], dim=1)


class Supernet(nn.Module):
    """DARTS' model_search.Network(C=16, layers=8) without the zero op's work."""

    def __init__(self):
        super().__init__()
        c_curr = STEM_MULTIPLIER * CHANNELS
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), bn(c_curr, affine=True))
        c_pp, c_p, c = c_curr, c_curr, CHANNELS
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(CELLS):
            reduction = i in (CELLS // 3, 2 * CELLS // 3)
            if reduction:
                c *= 2
            self.cells.append(Cell(c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, NODES * c
        self.classifier = nn.Linear(c_p, CLASSES)
        edges = sum(2 + n for n in range(NODES))
        self.alpha_normal = nn.Parameter(torch.zeros(edges, len(CANDIDATES)))
        self.alpha_reduce = nn.Parameter(torch.zeros(edges, len(CANDIDATES)))
        self.single = False

    def weights(self):
        return [p for n, p in self.named_parameters() if not n.startswith("alpha_")]

    def alphas(self):
        return [] if self.single else [self.alpha_normal, self.alpha_reduce]

    def keep_only(self, name):
        self.single = True
        for cell in self.cells:
            for edge in cell.edges:
                edge.keep_only(name)

    def forward(self, x):
        normal = reduce = None
        if not self.single:  # T = 1 (the bench's temperature)
            normal, reduce = F.softmax(self.alpha_normal, dim=-1), F.softmax(self.alpha_reduce, dim=-1)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def weight_count(net):
    return sum(p.numel() for p in net.weights())


class Search:
    """The first-order step: w step on a train batch, alpha step on a val batch."""

    def __init__(self, net, batch, device, memory_format):
        self.net = net
        self.sgd = torch.optim.SGD(net.weights(), **SGD)
        self.adam = torch.optim.Adam([net.alpha_normal, net.alpha_reduce], **ADAM)
        g = torch.Generator().manual_seed(0)
        make = lambda: (torch.randn(batch, 3, SIZE, SIZE, generator=g).to(device, memory_format=memory_format),
                        torch.randint(0, CLASSES, (batch,), generator=g).to(device))
        self.train, self.val = make(), make()

    def _step(self, batch, params, optimizer, clip):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        grads = torch.autograd.grad(loss, params)
        for p, g in zip(params, grads):
            p.grad = g
        if clip:
            nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        return loss.item()  # the read back ours does too (and a CUDA sync)

    def step(self):
        weights = [p for p in self.net.weights()]
        losses = [self._step(self.train, weights, self.sgd, GRAD_CLIP)]
        alphas = self.net.alphas()
        if alphas:
            losses.append(self._step(self.val, alphas, self.adam, None))
        return losses


def peak_rss_bytes():
    """This process's resident high-water mark. On Linux VmHWM: getrusage's ru_maxrss would start from
    the peak of the process that spawned it (the bench, gigabytes), inherited across fork and exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def time_steps(search, steps, device):
    """Wall and process CPU milliseconds per step, after one warm-up step, and the last step's losses."""
    search.step()  # warm-up: allocations, oneDNN/cuDNN primitive choice
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        losses = search.step()
    sync()
    return (time.perf_counter() - start) / steps * 1000, (time.process_time() - cpu) / steps * 1000, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32, as bench.ts)")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up (default 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all)")
    parser.add_argument("--keep", default="sep_conv_3x3", help="the op left per edge in the pruned configuration")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--memory-format", choices=list(FORMATS), default="channels_last",
                        help="channels_last (default: NHWC like ours, and ATen's faster CPU path) or contiguous (NCHW)")
    parser.add_argument("--only", choices=["all", "one"], help="time one configuration only")
    parser.add_argument("--params-only", action="store_true", help="print the weight count and exit")
    parser.add_argument("--eval", metavar="SPEC", help="time an evaluation network's training step (a JSON spec file, - for stdin)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.steps < 1 or args.threads < 1:
        parser.error("--batch, --steps and --threads take positive integers")
    if args.keep not in CANDIDATES[1:]:
        parser.error(f"--keep: {args.keep!r} is not one of {', '.join(CANDIDATES[1:])}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("peer_torch.py: --device cuda, but this torch sees no CUDA device", file=sys.stderr)
        return 1
    device = torch.device(args.device)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    if args.eval:
        return main_eval(args, device)

    net = Supernet()
    out = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "memoryFormat": args.memory_format,
        "weightParams": weight_count(net),
        "alphaParams": net.alpha_normal.numel() + net.alpha_reduce.numel(),
        "results": [],
    }
    if args.params_only:
        print(json.dumps(out))
        return 0
    memory_format = FORMATS[args.memory_format]
    net.to(device, memory_format=memory_format).train()
    for keep in [None, args.keep]:
        if args.only == ("one" if keep is None else "all"):
            continue
        if keep:
            net.keep_only(keep)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step_ms, cpu_ms, losses = time_steps(Search(net, args.batch, device, memory_format), args.steps, device)
        result = {
            "name": f"darts supernet, only {keep}" if keep else "darts supernet, all ops",
            "opsPerEdge": 1 if keep else len(CANDIDATES),
            "stepMs": step_ms,
            "cpuMs": cpu_ms,
            # The process's resident high-water mark so far (configurations run all ops first).
            "peakRssBytes": peak_rss_bytes(),
            "losses": losses,
        }
        if device.type == "cuda":
            result["peakCudaBytes"] = torch.cuda.max_memory_allocated()
        out["results"].append(result)
    print(json.dumps(out))
    return 0


def main_eval(args, device):
    """--eval SPEC: the evaluation network's training step, one result."""
    from peer_torch_eval import EvaluationNetwork, Training  # beside this file (sys.path[0])

    if args.eval == "-":
        spec = json.load(sys.stdin)
    else:
        with open(args.eval) as f:
            spec = json.load(f)
    net = EvaluationNetwork(spec)
    out = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "memoryFormat": args.memory_format,
        "weightParams": net.parameter_count(auxiliary=False),
        "weightParamsWithAuxiliary": net.parameter_count(auxiliary=True),
        "results": [],
    }
    if not args.params_only:
        memory_format = FORMATS[args.memory_format]
        net.to(device, memory_format=memory_format)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step_ms, cpu_ms, losses = time_steps(Training(net, spec, args.batch, device, memory_format), args.steps,
                                             device)
        result = {"name": spec["name"], "opsPerEdge": 1, "stepMs": step_ms, "cpuMs": cpu_ms,
                  "peakRssBytes": peak_rss_bytes(), "losses": losses}
        if device.type == "cuda":
            result["peakCudaBytes"] = torch.cuda.max_memory_allocated()
        out["results"].append(result)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
