"""Peer: the same sampled face crops scored by a CNN of the size users would pick instead.

    pip install -r benchmarks/requirements-bench.txt     # torch==2.13.0 (CPU build here)
    python benchmarks/peer.py [--clips 10] [--frames 16] [--net efficientnet_b4|xception]

The peer is EfficientNet-B4 (the usual deepfake-detection backbone: ~19 M parameters,
380x380 input) or Xception (~23 M, 299x299), defined here in plain PyTorch (timm's model
code imports torchvision, which has no CPU build here), with random weights: this
measures cost, not accuracy.  One thread (``torch.set_num_threads(1)``) to compare per core.

Per 720p clip, side by side in one process:

- ``ours``: :func:`detector.analysis.analyze` (decode, YuNet, artifact features, SVM);
- ``peer``: the same decoder and the same YuNet faces on the same sampled frames, each
  face cropped with the customary 1.3x margin, resized to the net's input and scored in
  one batch.

Reports CPU seconds per video, the ratio peer / ours per video (median and total) and
the scoring stage alone (CNN vs our artifact features, timed on the same faces).  Writes
``benchmarks/results/peer.json``.
"""

from __future__ import annotations

import argparse
import math
import sys

import common  # noqa: F401  (pins threads first)
from common import Clock, clips_720p, load_model_or_none, machine, write_json
from detector.decode import DEFAULT_FRAMES  # noqa: E402

import numpy as np


# ----------------------------------------------------------------------------- EfficientNet-B4
def efficientnet(width: float = 1.4, depth: float = 1.8, num_classes: int = 1000, dropout: float = 0.4):
    """EfficientNet (Tan & Le 2019) in plain PyTorch; defaults = B4 (19.3 M parameters)."""
    import torch
    from torch import nn

    def filters(c: int) -> int:
        c *= width
        new = max(8, int(c + 4) // 8 * 8)
        return int(new + 8) if new < 0.9 * c else int(new)

    class SE(nn.Module):
        def __init__(self, c: int, squeeze: int):
            super().__init__()
            self.f = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, squeeze, 1), nn.SiLU(),
                                   nn.Conv2d(squeeze, c, 1), nn.Sigmoid())

        def forward(self, x):
            return x * self.f(x)

    class MBConv(nn.Module):
        def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int):
            super().__init__()
            mid = cin * expand
            layers = []
            if expand != 1:
                layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU()]
            layers += [nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.SiLU(),
                       SE(mid, max(1, cin // 4)), nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.f = nn.Sequential(*layers)
            self.res = stride == 1 and cin == cout

        def forward(self, x):
            y = self.f(x)
            return x + y if self.res else y

    # (expand, kernel, stride, channels, repeats) of B0
    base = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
            (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    stem = filters(32)
    layers = [nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.SiLU()]
    cin = stem
    for e, k, s, c, r in base:
        cout = filters(c)
        for i in range(int(math.ceil(depth * r))):
            layers.append(MBConv(cin, cout, e, k, s if i == 0 else 1))
            cin = cout
    head = filters(1280)
    layers += [nn.Conv2d(cin, head, 1, bias=False), nn.BatchNorm2d(head), nn.SiLU(), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Dropout(dropout), nn.Linear(head, num_classes)]
    return nn.Sequential(*layers)


def xception(num_classes: int = 1000):
    """Xception (Chollet 2017) in plain PyTorch (22.9 M parameters, 299x299)."""
    from torch import nn

    def sep(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False),
                             nn.BatchNorm2d(cout))

    class Block(nn.Module):
        def __init__(self, cin, cout, reps, stride, start_relu=True, grow_first=True):
            super().__init__()
            self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if cout != cin or stride != 1 else None)
            layers, c = [], cin
            if grow_first:
                layers += [nn.ReLU(), sep(cin, cout)]
                c = cout
            for _ in range(reps - 1):
                layers += [nn.ReLU(), sep(c, c)]
            if not grow_first:
                layers += [nn.ReLU(), sep(cin, cout)]
            if not start_relu:
                layers = layers[1:]
            if stride != 1:
                layers.append(nn.MaxPool2d(3, stride, 1))
            self.f = nn.Sequential(*layers)

        def forward(self, x):
            return self.f(x) + (self.skip(x) if self.skip is not None else x)

    layers = [nn.Conv2d(3, 32, 3, 2, 0, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
              nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              Block(64, 128, 2, 2, start_relu=False), Block(128, 256, 2, 2), Block(256, 728, 2, 2)]
    layers += [Block(728, 728, 3, 1) for _ in range(8)]
    layers += [Block(728, 1024, 2, 2, grow_first=False), sep(1024, 1536), nn.ReLU(), sep(1536, 2048), nn.ReLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, num_classes)]
    return nn.Sequential(*layers)


NETS = {"efficientnet_b4": (efficientnet, 380), "xception": (xception, 299)}


def crop(image: np.ndarray, box, size: int, margin: float = 1.3) -> np.ndarray:
    """Square crop of ``margin`` x the face box, resized to ``size`` (RGB float, ImageNet-normalised)."""
    import cv2

    x, y, w, h = box
    cx, cy, half = x + w / 2, y + h / 2, max(w, h) * margin / 2
    H, W = image.shape[:2]
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(W, cx + half)), int(min(H, cy + half))
    c = cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    c = (c.astype(np.float32) / 255.0 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)
    return c.transpose(2, 0, 1).astype(np.float32)


def peer_video(path: str, n_frames: int, net, size: int) -> dict:
    """Decode + YuNet (the same as ours) + crops + CNN; CPU seconds per stage."""
    import torch

    from detector.faces import detect_faces, face_regions
    from detector.features import face_features
    from detector.decode import iter_frames

    t = {}
    crops = []
    with Clock() as c_all:
        with Clock() as c:
            frames = list(iter_frames(path, n_frames))
        t["decode"] = c.cpu
        with Clock() as c:
            faces = [(f, detect_faces(f.image)) for f in frames]
        t["faces"] = c.cpu
        with Clock() as c:
            for f, found in faces:
                crops += [crop(f.image, face.box, size) for face in found]
            with torch.inference_mode():
                scores = net(torch.from_numpy(np.stack(crops))) if crops else None
        t["cnn"] = c.cpu
    with Clock() as c:  # ours on the very same faces (not part of the peer's cost)
        for f, found in faces:
            for face in found:
                try:
                    face_features(f.image, face_regions(face, f.image.shape))
                except ValueError:
                    pass
    t["ours_features_same_faces"] = c.cpu
    return {"cpu": c_all.cpu, "wall": c_all.wall, "n_crops": len(crops), **{f"t_{k}": v for k, v in t.items()},
            "out_shape": None if scores is None else list(scores.shape)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--net", choices=list(NETS), default="efficientnet_b4")
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    make, size = NETS[args.net]
    net = make().eval()
    n_params = sum(p.numel() for p in net.parameters())
    from detector.analysis import analyze

    model = load_model_or_none(args.model)
    clips = clips_720p(args.clips)
    info = machine({"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "net": args.net,
                    "net_params": n_params, "input": size, "clips": len(clips), "frames": args.frames})
    print(f"{args.net}: {n_params / 1e6:.1f} M parameters, {size}x{size}, torch {torch.__version__}, 1 thread; "
          f"{len(clips)} clips, load {info['loadavg_start'][0]:.2f}", flush=True)
    with torch.inference_mode():  # warm-up
        net(torch.zeros(1, 3, size, size))
    analyze(clips.abs_path.iloc[0], model=model, n_frames=2)
    rows = []
    for r in clips.itertuples():
        with Clock() as c:
            a = analyze(r.abs_path, model=model, n_frames=args.frames)
        ours = {"cpu": c.cpu, "wall": c.wall, "n_faces": a.n_faces, **{f"t_{k}": v for k, v in a.timings.items()}}
        peer = peer_video(r.abs_path, args.frames, net, size)
        row = {"path": r.path, "duration_s": a.info.duration_s, "ours": ours, "peer": peer,
               "ratio": peer["cpu"] / ours["cpu"],
               "ratio_scoring": peer["t_cnn"] / max(1e-9, peer["t_ours_features_same_faces"])}
        rows.append(row)
        print(f"  {r.path:52s} faces {a.n_faces:2d}/{peer['n_crops']:2d}  ours {ours['cpu']:5.2f}  peer "
              f"{peer['cpu']:6.2f} CPU s (cnn {peer['t_cnn']:.2f})  x{row['ratio']:.1f}", flush=True)
    ours_cpu = sum(r["ours"]["cpu"] for r in rows)
    peer_cpu = sum(r["peer"]["cpu"] for r in rows)
    cnn = sum(r["peer"]["t_cnn"] for r in rows)
    crops = sum(r["peer"]["n_crops"] for r in rows)
    feats = sum(r["peer"]["t_ours_features_same_faces"] for r in rows)
    summary = {
        "videos": len(rows), "ours_cpu_s": ours_cpu, "peer_cpu_s": peer_cpu,
        "ratio_total": peer_cpu / ours_cpu, "ratio_median_per_video": float(np.median([r["ratio"] for r in rows])),
        "ratio_scoring_stage": cnn / feats, "cnn_ms_per_crop": 1000 * cnn / max(1, crops),
        "ours_features_ms_per_face": 1000 * feats / max(1, crops), "crops": crops,
        "ours_s_per_video": ours_cpu / len(rows), "peer_s_per_video": peer_cpu / len(rows),
        "target_ratio_min": 50,
    }
    print(f"\nper video (CPU s, 1 core): ours {summary['ours_s_per_video']:.2f}, peer {summary['peer_s_per_video']:.2f}"
          f"  -> peer/ours x{summary['ratio_total']:.1f} (median per video x{summary['ratio_median_per_video']:.1f};"
          f" target >= 50)")
    print(f"scoring stage alone (CPU, same faces): CNN {summary['cnn_ms_per_crop']:.0f} ms/crop (incl. crop+resize) "
          f"vs our features {summary['ours_features_ms_per_face']:.0f} ms/face -> x{summary['ratio_scoring_stage']:.1f}")
    write_json("peer", {"command": "python benchmarks/peer.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                        "machine": info, "summary": summary, "per_clip": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
