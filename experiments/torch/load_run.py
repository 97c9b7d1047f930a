#!/usr/bin/env python3
"""Loads a TinyM2Net training run into the PyTorch model of the same architecture.

    experiments/torch/load_run.py RUN_DIR [--features CACHE.h5] [--save FILE.pt]

RUN_DIR/model.h5 holds the experiment text (attribute "experiment"), the weights
(model/<layer>/<what>) and each branch's input standardisation (input/<branch>/mean
and std; std = 0 means the branch takes its features as they are). The script builds
a torch.nn.Module from the experiment's [<branch>.<layer>] and [head.<layer>] sections
(the branches' outputs concatenated in branch order, the only [fusion] type), with
[train] bn_eps, copies every weight into it by name, and checks nothing
is left over.

The module takes one tensor per branch, in the experiment's branch order, of the
features the framework computes (image pixels 0..1, MFCC or log-mel from its own front
end), shaped (N, C, H, W) as the branch's `input`; it standardises them itself, so it
computes what tinym2net's float model computes on the same features.

--features: a feature-cache file of the run's data (data/ writes them, one per manifest,
in [data] cache): the module runs on its rows and prints the top-1 accuracy, which for
the test manifest's cache is metrics.json's test_accuracy. --save writes the module.

Needs python3-torch and python3-h5py (Debian). Used by tests/test_torch_load.sh.
"""
import argparse
import configparser
import sys

import h5py
import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTED = {"conv", "depthwise", "separable", "dense"}


def fail(msg):
    sys.exit("load_run.py: " + msg)


def size_hw(v):
    """size = N or HxW, as the experiment parser reads it."""
    if "x" in v:
        h, w = v.split("x")
        return int(h), int(w)
    return int(v), int(v)


def out_size(n, k, stride, padding):
    return (n + stride - 1) // stride if padding == "same" else (n - k) // stride + 1


def same_pads(n, k, stride, padding):
    """(before, after) as the framework pads 'same': the smaller half before."""
    if padding != "same":
        return 0, 0
    out = (n + stride - 1) // stride
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


class Layer(nn.Module):
    """One [section] of an experiment file, on a (N, C, H, W) or (N, F) tensor."""

    def __init__(self, name, keys, shape):
        super().__init__()
        self.name, self.kind = name, keys["type"]
        self.act = keys.get("activation", "none")
        c = shape[0]
        self.out_shape = list(shape)
        kind = self.kind
        if kind in ("conv", "depthwise", "separable"):
            kh, kw = size_hw(keys.get("size", "3"))
            self.stride = int(keys.get("stride", "1"))
            self.padding = keys.get("padding", "same")
            h, w = shape[1], shape[2]
            self.pads = same_pads(w, kw, self.stride, self.padding) + \
                same_pads(h, kh, self.stride, self.padding)
            bn = keys.get("batch_norm", "0") == "1"
            bias = keys.get("bias", "-1")
            bias = (not bn) if bias == "-1" else bias == "1"
            co = c if kind == "depthwise" else int(keys["filters"])
            if kind == "conv":
                self.conv = nn.Conv2d(c, co, (kh, kw), self.stride, bias=bias)
            elif kind == "depthwise":
                self.conv = nn.Conv2d(c, c, (kh, kw), self.stride, groups=c, bias=bias)
            else:  # depthwise (with its bias) then pointwise
                self.dw = nn.Conv2d(c, c, (kh, kw), self.stride, groups=c, bias=True)
                self.pw = nn.Conv2d(c, co, 1, bias=bias)
            self.bn = nn.BatchNorm2d(co, eps=keys["_bn_eps"]) if bn else None
            self.out_shape = [co, out_size(h, kh, self.stride, self.padding),
                              out_size(w, kw, self.stride, self.padding)]
        elif kind in ("maxpool", "avgpool"):
            k = int(keys.get("size", "2"))
            self.k, self.stride = k, int(keys.get("stride", str(k)))
            self.out_shape = [c, (shape[1] - k) // self.stride + 1,
                              (shape[2] - k) // self.stride + 1]
        elif kind == "globalavgpool":
            self.out_shape = [c]
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            self.out_shape = [n]
        elif kind == "dense":
            units = int(keys["units"]) if keys["units"] != "classes" else keys["_classes"]
            bn = keys.get("batch_norm", "0") == "1"
            bias = keys.get("bias", "-1")
            bias = (not bn) if bias == "-1" else bias == "1"
            self.fc = nn.Linear(shape[0], units, bias=bias)
            self.bn = nn.BatchNorm1d(units, eps=keys["_bn_eps"]) if bn else None
            self.out_shape = [units]
        elif kind == "batchnorm":
            self.bn = (nn.BatchNorm2d(c, eps=keys["_bn_eps"]) if len(shape) == 3
                       else nn.BatchNorm1d(c, eps=keys["_bn_eps"]))
        elif kind == "dropout":
            self.drop = nn.Dropout(float(keys.get("rate", "0.5")))
        elif kind in ("relu", "relu6"):
            pass
        elif kind == "add":
            if "from" not in keys:
                fail("[%s]: an add needs from = <an earlier layer>" % name)
            self.src = keys["from"]
        else:
            fail("[%s]: layer type %s is not known to this script" % (name, kind))

    def forward(self, x, skip=None):
        k = self.kind
        if k == "add":
            x = x + skip
        elif k in ("conv", "depthwise"):
            x = self.conv(F.pad(x, self.pads))
        elif k == "separable":
            x = self.pw(self.dw(F.pad(x, self.pads)))
        elif k == "maxpool":
            x = F.max_pool2d(x, self.k, self.stride)
        elif k == "avgpool":
            x = F.avg_pool2d(x, self.k, self.stride)
        elif k == "globalavgpool":
            x = x.mean(dim=(2, 3))
        elif k == "flatten":
            x = x.flatten(1)
        elif k == "dense":
            x = self.fc(x)
        elif k == "dropout":
            return self.drop(x)
        elif k == "relu":
            return F.relu(x)
        elif k == "relu6":
            return F.relu6(x)
        if getattr(self, "bn", None) is not None:
            x = self.bn(x)
        if self.act == "relu":
            x = F.relu(x)
        elif self.act == "relu6":
            x = F.relu6(x)
        return x


class Run(nn.Module):
    """Branches -> concatenation -> head, with each branch's standardisation."""

    def __init__(self, cfg, classes, mean, std):
        super().__init__()
        secs = cfg.sections()
        bn_eps = float(cfg["train"].get("bn_eps", "1e-5")) if cfg.has_section("train") else 1e-5
        self.branch_names = [s for s in secs if "." not in s and "input" in cfg[s]]
        one = cfg["experiment"].get("branch", "") if cfg.has_section("experiment") else ""
        if one:
            self.branch_names = [one]
        self.branches = nn.ModuleList()
        width = 0
        for b in self.branch_names:
            shape = [int(v) for v in cfg[b]["input"].split(";")[0].split("#")[0].strip().split("x")]
            layers, shape = self.chain(cfg, secs, b, shape, classes, bn_eps)
            self.branches.append(layers)
            width += shape[0]
        self.head, shape = self.chain(cfg, secs, "head", [width], classes, bn_eps)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    @staticmethod
    def chain(cfg, secs, prefix, shape, classes, bn_eps):
        """The [prefix.*] layers in order; an add's `from` resolved to an earlier one."""
        layers, shapes = nn.ModuleList(), {}
        for s in secs:
            if s.startswith(prefix + "."):
                layer = Layer(s, dict(cfg[s], _classes=classes, _bn_eps=bn_eps), shape)
                if layer.kind == "add":
                    src = layer.src if layer.src in shapes else prefix + "." + layer.src
                    if src not in shapes:
                        fail("[%s]: from = %s is no earlier layer of %s" % (s, layer.src, prefix))
                    if shapes[src] != list(shape):
                        fail("[%s]: from = %s gives %s, the input is %s" %
                             (s, layer.src, shapes[src], list(shape)))
                    layer.src = src
                shape = layer.out_shape
                shapes[s] = list(shape)
                layers.append(layer)
        return layers, shape

    @staticmethod
    def run_chain(layers, x):
        outs = {}
        for layer in layers:
            x = layer(x, outs[layer.src] if layer.kind == "add" else None)
            outs[layer.name] = x
        return x

    def forward(self, *xs):
        outs = []
        for i, (layers, x) in enumerate(zip(self.branches, xs)):
            if self.std[i] > 0:
                x = (x - self.mean[i]) / self.std[i]
            outs.append(self.run_chain(layers, x))
        x = torch.cat(outs, dim=1)
        return self.run_chain(self.head, x)


# framework name -> (torch attribute path within the layer)
NAMES = {"weight": ("conv", "fc"), "bias": ("conv", "fc"),
         "dw.weight": ("dw",), "dw.bias": ("dw",), "pw.weight": ("pw",), "pw.bias": ("pw",),
         "bn.gamma": ("bn",), "bn.beta": ("bn",), "bn.running_mean": ("bn",),
         "bn.running_var": ("bn",)}
TORCH = {"bn.gamma": "weight", "bn.beta": "bias", "bn.running_mean": "running_mean",
         "bn.running_var": "running_var", "dw.weight": "weight", "dw.bias": "bias",
         "pw.weight": "weight", "pw.bias": "bias", "weight": "weight", "bias": "bias"}


def load(run_dir):
    path = run_dir.rstrip("/") + "/model.h5"
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("%s: %s" % (path, e))
    with f:
        return load_file(f, path)


def load_file(f, path):
    if "experiment" not in f.attrs or "model" not in f:
        fail("%s: not a tinym2net run (no experiment attribute or model group)" % path)
    text = f.attrs["experiment"]
    text = text.decode() if isinstance(text, bytes) else text
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None,
                                    strict=False)
    cfg.optionxform = str
    cfg.read_string(text)
    heads = [s for s in cfg.sections() if s.startswith("head.")]
    if not heads or heads[-1] not in f["model"]:
        fail("%s: the experiment has no [head.*] weight layer last" % path)
    head_out = heads[-1]
    classes = f["model"][head_out]["weight"].shape[0]
    branches = [s for s in cfg.sections() if "." not in s and "input" in cfg[s]]
    one = cfg["experiment"].get("branch", "") if cfg.has_section("experiment") else ""
    branches = [one] if one else branches
    mean = [float(f["input"][b]["mean"][0]) if "input" in f and b in f["input"] else 0.0
            for b in branches]
    std = [float(f["input"][b]["std"][0]) if "input" in f and b in f["input"] else 0.0
           for b in branches]
    model = Run(cfg, classes, mean, std)
    layers = {l.name: l for ls in list(model.branches) + [model.head] for l in ls}
    used = 0
    for lname, g in f["model"].items():
        if lname not in layers:
            fail("%s: weights of %s, a layer the experiment does not declare" % (path, lname))
        layer = layers[lname]
        for what, ds in g.items():
            mod = next((getattr(layer, a) for a in NAMES.get(what, ())
                        if getattr(layer, a, None) is not None), None)
            if mod is None:
                fail("%s: %s/%s has no place in the PyTorch layer" % (path, lname, what))
            t = getattr(mod, TORCH[what])
            v = torch.from_numpy(ds[()]).to(torch.float32)
            if tuple(t.shape) != tuple(v.shape):
                fail("%s: %s/%s has shape %s, the PyTorch layer %s" %
                     (path, lname, what, tuple(v.shape), tuple(t.shape)))
            with torch.no_grad():
                t.copy_(v)
            used += 1
    expected = sum(1 for l in layers.values() for a in ("conv", "fc", "dw", "pw", "bn")
                   for p in (("weight", "bias", "running_mean", "running_var") if a == "bn"
                             else ("weight", "bias"))
                   if getattr(l, a, None) is not None and getattr(getattr(l, a), p, None)
                   is not None)
    if used != expected:
        fail("%s: %d arrays loaded, the PyTorch model has %d" % (path, used, expected))
    model.eval()
    return model, cfg, branches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--features", help="a feature-cache file (data/'s HDF5) to evaluate on")
    ap.add_argument("--save", help="write the module with torch.save")
    a = ap.parse_args()
    model, cfg, branches = load(a.run_dir)
    n = sum(p.numel() for p in model.parameters())
    print("loaded %s: %d branches (%s), %d parameters" %
          (a.run_dir, len(branches), ", ".join(branches), n))
    if a.features:
        try:
            c = h5py.File(a.features, "r")
        except OSError as e:
            fail("%s: %s" % (a.features, e))
        with c:
            if "features" not in c or "label" not in c:
                fail("%s: not a feature cache (no features or label)" % a.features)
            xs = []
            for b in branches:
                mod = cfg[b].get("modality", b).split(";")[0].split("#")[0].strip()
                if mod not in c["features"]:
                    fail("%s: no features of modality %s" % (a.features, mod))
                xs.append(torch.from_numpy(c["features"][mod][()]).to(torch.float32))
            y = torch.from_numpy(c["label"][()]).long()
        with torch.no_grad():
            pred = model(*xs).argmax(dim=1)
        right = int((pred == y).sum())
        print("accuracy %.6f (%d/%d) on %s" % (right / len(y), right, len(y), a.features))
    if a.save:
        torch.save(model, a.save)
        print("wrote " + a.save)


if __name__ == "__main__":
    main()
