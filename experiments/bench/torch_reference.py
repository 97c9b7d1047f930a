#!/usr/bin/python3
"""PyTorch reference of the TinyM2Net model (docs/reference-model.md).

Modes (one machine-readable line on stdout, human-readable notes on stderr):
  bench  --batch 32 --seconds 10 --threads 2 [--branches image,audio]
         -> torch_train_samples_per_s <float>
  train  --features FILE.npz --epochs 20 --batch 32 --seed 0 [--branches image,audio]
         -> torch_test_accuracy <float>
  bench-infer [--quantized] [--engine auto|qnnpack|onednn|fbgemm] --seconds 3 --threads 1
         -> torch_float_latency_ms <float>   (eval mode, batch 1 unless --batch)
         -> torch_int8_latency_ms <float> engine <name>   (with --quantized: static int8
            post-training quantisation, torch.ao.quantization FX mode, calibrated on
            random batches; engine auto = the fastest available)

The .npz holds train_<branch>, train_y, test_<branch>, test_y (float32 NCHW, int labels).
"""

import argparse
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    # Debian's torch lives in the system interpreter; a pyenv/venv python3 on PATH hides it.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3") and not os.environ.get("TM_TORCH_REEXEC"):
        os.environ["TM_TORCH_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

DEFAULT_SHAPES = {"image": (1, 28, 28), "audio": (1, 13, 61)}
LR = 2e-3
DROPOUT = 0.2


class SeparableConv(nn.Module):
    """Depthwise 3x3 (same padding) then pointwise 1x1, each with bias."""

    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=True)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class Branch(nn.Module):
    """conv3x3(16)+BN+ReLU, sep(32)+ReLU+pool2, sep(32)+ReLU+pool2, flatten, dropout, dense 32+ReLU."""

    def __init__(self, shape):
        super().__init__()
        c, h, w = shape
        self.conv = nn.Conv2d(c, 16, 3, padding=1, bias=False)  # BN supplies the shift
        self.bn = nn.BatchNorm2d(16)
        self.sep1 = SeparableConv(16, 32)
        self.sep2 = SeparableConv(32, 32)
        flat = 32 * ((h // 2) // 2) * ((w // 2) // 2)
        if flat == 0:
            raise ValueError(f"input shape {shape} too small for two 2x2 max pools")
        self.drop = nn.Dropout(DROPOUT)
        self.dense = nn.Linear(flat, 32)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.max_pool2d(F.relu(self.sep1(x)), 2)
        x = F.max_pool2d(F.relu(self.sep2(x)), 2)
        x = self.drop(torch.flatten(x, 1))
        return F.relu(self.dense(x))


class FusionNet(nn.Module):
    """Concat of the branches' 32-vectors, dropout 0.2, dense to classes.

    With a single branch this is exactly the single-modality variant (32 -> dropout -> dense).
    """

    def __init__(self, branches, shapes, classes):
        super().__init__()
        self.names = list(branches)
        self.branches = nn.ModuleDict({b: Branch(shapes[b]) for b in self.names})
        self.drop = nn.Dropout(DROPOUT)
        self.head = nn.Linear(32 * len(self.names), classes)

    def forward(self, *inputs):
        feats = [self.branches[b](x) for b, x in zip(self.names, inputs)]
        z = feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
        return self.head(self.drop(z))


def build_model(branches, shapes=None, classes=10):
    """branches: list of names (e.g. ["image", "audio"]); shapes: name -> (C, H, W)."""
    shapes = dict(DEFAULT_SHAPES, **(shapes or {}))
    for b in branches:
        if b not in shapes:
            raise ValueError(f"branch '{b}' has no input shape")
    return FusionNet(branches, shapes, classes)


def parse_shape(text):
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3 or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"shape '{text}' must be C,H,W with positive ints")
    return tuple(parts)


def parse_branches(text):
    names = [b.strip() for b in text.split(",") if b.strip()]
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"branches '{text}' must be distinct comma-separated names")
    return names


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def train_step(model, opt, inputs, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(*inputs), y)
    loss.backward()
    opt.step()
    return loss


def cmd_bench(args, shapes):
    torch.manual_seed(args.seed)
    model = build_model(args.branches, shapes, args.classes)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    inputs = [torch.randn(args.batch, *shapes[b]) for b in args.branches]
    y = torch.randint(0, args.classes, (args.batch,))
    for _ in range(args.warmup):
        train_step(model, opt, inputs, y)
    steps = 0
    t0 = time.perf_counter()
    while True:
        train_step(model, opt, inputs, y)
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= args.seconds:
            break
    rate = steps * args.batch / elapsed
    note(f"torch {torch.__version__}, threads {torch.get_num_threads()}, branches "
         f"{','.join(args.branches)}, batch {args.batch}: {steps} steps in {elapsed:.2f} s")
    print(f"torch_train_samples_per_s {rate:.2f}", flush=True)


def load_split(npz, split, branches, path):
    xs = []
    for b in branches:
        key = f"{split}_{b}"
        if key not in npz:
            raise KeyError(f"{path}: array '{key}' missing (has {sorted(npz.keys())})")
        x = np.asarray(npz[key], dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"{path}: array '{key}' must be NCHW, got shape {x.shape}")
        xs.append(torch.from_numpy(np.ascontiguousarray(x)))
    key = f"{split}_y"
    if key not in npz:
        raise KeyError(f"{path}: array '{key}' missing")
    y = torch.from_numpy(np.asarray(npz[key]).astype(np.int64).reshape(-1))
    for b, x in zip(branches, xs):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{path}: {split}_{b} has {x.shape[0]} rows, {key} has {y.shape[0]}")
    return xs, y


@torch.no_grad()
def accuracy(model, xs, y, batch):
    model.eval()
    correct = 0
    for i in range(0, y.shape[0], batch):
        out = model(*[x[i:i + batch] for x in xs])
        correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return correct / max(1, y.shape[0])


def cmd_train(args, shapes):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    with np.load(args.features) as npz:
        train_x, train_y = load_split(npz, "train", args.branches, args.features)
        test_x, test_y = load_split(npz, "test", args.branches, args.features)
    # shapes come from the data; the command-line shapes are only for bench.
    data_shapes = {b: tuple(x.shape[1:]) for b, x in zip(args.branches, train_x)}
    for b, x in zip(args.branches, test_x):
        if tuple(x.shape[1:]) != data_shapes[b]:
            raise ValueError(f"{args.features}: test_{b} shape {tuple(x.shape[1:])} "
                             f"differs from train_{b} {data_shapes[b]}")
    classes = args.classes
    top = int(max(train_y.max().item(), test_y.max().item())) + 1
    if top > classes or int(min(train_y.min().item(), test_y.min().item())) < 0:
        raise ValueError(f"{args.features}: labels outside 0..{classes - 1}")
    model = build_model(args.branches, data_shapes, classes)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(args.seed)
    n = train_y.shape[0]
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        perm = torch.randperm(n, generator=gen)
        total, seen = 0.0, 0
        for i in range(0, n, args.batch):
            idx = perm[i:i + args.batch]
            loss = train_step(model, opt, [x[idx] for x in train_x], train_y[idx])
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
        note(f"epoch {epoch + 1}/{args.epochs}: loss {total / max(1, seen):.4f}, "
             f"test acc {accuracy(model, test_x, test_y, 256):.4f} "
             f"({time.perf_counter() - t0:.1f} s)")
    acc = accuracy(model, test_x, test_y, 256)
    print(f"torch_test_accuracy {acc:.6f}", flush=True)


class _Positional(nn.Module):
    """FusionNet with a fixed signature forward(x0, x1, ...): FX cannot trace *inputs."""

    def __init__(self, net):
        super().__init__()
        self.net = net


class _Positional1(_Positional):
    def forward(self, x0):
        return self.net(x0)


class _Positional2(_Positional):
    def forward(self, x0, x1):
        return self.net(x0, x1)


class _Positional3(_Positional):
    def forward(self, x0, x1, x2):
        return self.net(x0, x1, x2)


class _Positional4(_Positional):
    def forward(self, x0, x1, x2, x3):
        return self.net(x0, x1, x2, x3)


_POSITIONAL = {1: _Positional1, 2: _Positional2, 3: _Positional3, 4: _Positional4}


def median_latency(fn, inputs, seconds, warmup=20):
    """Median wall time of one call, over as many calls as fit in `seconds`."""
    for _ in range(warmup):
        fn(*inputs)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t0 = time.perf_counter()
        fn(*inputs)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], len(times)


def quantize_static(model, branches, shapes, engine, calib_batches, seed):
    """Post-training static int8 quantisation (FX graph mode): per-channel
    weights and per-tensor activations per the engine's default qconfig,
    conv+bn(+relu) fused, calibrated on random batches."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = engine
    if len(branches) not in _POSITIONAL:
        raise ValueError(f"{len(branches)} branches: bench-infer takes 1 to 4")
    wrapper = _POSITIONAL[len(branches)](model).eval()
    example = tuple(torch.randn(1, *shapes[b]) for b in branches)
    prepared = prepare_fx(wrapper, get_default_qconfig_mapping(engine), example)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(calib_batches):
            prepared(*[torch.randn(32, *shapes[b], generator=gen) for b in branches])
    return convert_fx(prepared)


def cmd_bench_infer(args, shapes):
    torch.manual_seed(args.seed)
    model = build_model(args.branches, shapes, args.classes).eval()
    inputs = [torch.randn(args.batch, *shapes[b]) for b in args.branches]
    with torch.no_grad():
        t, calls = median_latency(model, inputs, args.seconds)
    note(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}: "
         f"float {t * 1e3:.4f} ms median over {calls} calls")
    print(f"torch_float_latency_ms {t * 1e3:.6f}", flush=True)
    if not args.quantized:
        return
    engines = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    if args.engine != "auto":
        if args.engine not in engines:
            raise ValueError(f"quantized engine '{args.engine}' not in this torch build "
                             f"(has {engines})")
        engines = [args.engine]
    best = None
    for engine in engines:
        qmodel = quantize_static(model, args.branches, shapes, engine, args.calib_batches,
                                    args.seed)
        with torch.no_grad():
            t, calls = median_latency(qmodel, inputs, args.seconds)
        note(f"torch int8 ({engine}): {t * 1e3:.4f} ms median over {calls} calls")
        if best is None or t < best[0]:
            best = (t, engine)
    print(f"torch_int8_latency_ms {best[0] * 1e3:.6f} engine {best[1]}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--branches", type=parse_branches, default=["image", "audio"])
    common.add_argument("--image-shape", type=parse_shape, default=DEFAULT_SHAPES["image"])
    common.add_argument("--audio-shape", type=parse_shape, default=DEFAULT_SHAPES["audio"])
    common.add_argument("--classes", type=int, default=10)
    common.add_argument("--batch", type=int, default=32)
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench", parents=[common], help="training throughput on random data")
    b.add_argument("--seconds", type=float, default=10.0)
    b.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    t = sub.add_parser("train", parents=[common], help="train on an .npz, report test accuracy")
    t.add_argument("--features", required=True)
    t.add_argument("--epochs", type=int, default=20)
    i = sub.add_parser("bench-infer", parents=[common],
                       help="inference latency (float, and int8 with --quantized)")
    i.add_argument("--seconds", type=float, default=3.0, help="timed per model")
    i.add_argument("--quantized", action="store_true",
                   help="also PyTorch's static int8 path (torch.ao.quantization)")
    i.add_argument("--engine", default="auto",
                   help="quantized engine: auto (fastest available), qnnpack, onednn, fbgemm")
    i.add_argument("--calib-batches", type=int, default=8)
    i.set_defaults(batch=1, threads=1)
    args = p.parse_args(argv)
    if args.batch <= 0 or args.threads <= 0 or args.classes <= 1:
        p.error("--batch and --threads must be positive, --classes at least 2")
    torch.set_num_threads(args.threads)
    shapes = {"image": args.image_shape, "audio": args.audio_shape}
    try:
        if args.mode == "bench":
            cmd_bench(args, shapes)
        elif args.mode == "bench-infer":
            cmd_bench_infer(args, shapes)
        else:
            cmd_train(args, shapes)
    except (KeyError, ValueError, OSError) as e:
        note(f"torch_reference: error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
