#!/usr/bin/python3
"""Checks `--model FILE.pt` against the zoo: a torchvision ResNet-18 (random weights,
seeded: no pretrained weights ship with Debian) is traced with torch.jit.trace and its
weights are written as .safetensors; loupe explains the same photos through both and
the maps must agree. Needs python3-torch and python3-torchvision (reference tools, not
the test suite). Usage: scripts/check_torchscript.py BUILD/loupe PHOTO... [--methods m,n]
"""
import argparse, json, os, struct, subprocess, sys, tempfile

import numpy as np
import torch
import torchvision


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    kinds = {torch.float32: "F32", torch.int64: "I64"}
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": kinds[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("loupe")
    p.add_argument("photos", nargs="+")
    p.add_argument("--methods", default="gradcam,lime,kernelshap")
    p.add_argument("--samples", default="300")
    a = p.parse_args()
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=1000).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    d = tempfile.mkdtemp(prefix="loupe_ts_")
    write_safetensors(os.path.join(d, "r18.safetensors"), net.state_dict())
    torch.jit.trace(net, torch.rand(1, 3, 224, 224)).save(os.path.join(d, "r18_traced.pt"))
    torch.jit.script(net).save(os.path.join(d, "r18_scripted.pt"))
    common = ["--methods", a.methods, "--images", *a.photos, "--size", "224", "--samples", a.samples,
              "--device", "cpu"]
    runs = {"zoo": ["--model", "resnet18", "--weights", os.path.join(d, "r18.safetensors")],
            "traced": ["--model", os.path.join(d, "r18_traced.pt"), "--tap", "layer4"],
            "scripted": ["--model", os.path.join(d, "r18_scripted.pt"), "--tap", "layer4"]}
    for name, flags in runs.items():
        subprocess.run([a.loupe, "explain", *flags, *common, "--out", os.path.join(d, name)], check=True,
                       stdout=subprocess.DEVNULL)
    worst = 0.0
    for image in sorted(os.listdir(os.path.join(d, "zoo", "maps"))):
        for method in a.methods.split(","):
            ref = np.load(os.path.join(d, "zoo", "maps", image, method + ".npy"))
            for name in ("traced", "scripted"):
                got = np.load(os.path.join(d, name, "maps", image, method + ".npy"))
                diff = float(np.abs(ref - got).max())
                worst = max(worst, diff)
                print(f"{image:>12} {method:>10} {name:>8}: max |zoo - TorchScript| = {diff:.2e}")
    print(f"worst: {worst:.2e} ({'ok' if worst <= 1e-5 else 'DIFFERENT'}); files in {d}")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
