"""The taught-actions study (docs/research/teaching.md): features of every clip, recorded once, then heads
compared on them in numpy.

    python docs/research/teaching_study.py extract CACHE_DIR     # runs the model (a few minutes)

Each run is a fresh stream (as `--teach ... --video` and a video run start one) at the app's defaults: 5 fps, a
12 s window with the change test. Per classified frame it keeps the window embedding (480), the frames in the
window, the raw softmax of the window (600) and that frame's own head feature (480).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.paths import LABELS, MEDIA, MODEL  # noqa: E402
from utils.model.head_window import ChangeTest  # noqa: E402
from utils.model.labels import load_labels  # noqa: E402
from utils.model.runtime import load_runtime  # noqa: E402
from utils.model.stream_classifier import StreamClassifier  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

FPS = 5.0
WINDOW = 60
FROZEN_FRAMES = 50  # 10 s
SETS = {"shared": MEDIA, "val": MEDIA / "val", "teach": MEDIA / "teach", "changes": MEDIA / "changes"}


def run(classifier: StreamClassifier, images: list[np.ndarray]) -> dict[str, np.ndarray]:
    classifier.reset()
    window = classifier.window
    out: dict[str, list] = {"emb": [], "n": [], "prob": [], "feat": []}
    for image in images:
        classifier.classify(image)
        embedding, frames = classifier.embedding()
        out["emb"].append(embedding.copy())
        out["n"].append(frames)
        out["prob"].append(classifier._probabilities.copy())  # the raw softmax, before smoothing
        out["feat"].append(window._features[(window.frame - 1) % window._history].copy())
    return {k: np.asarray(v, np.int32 if k == "n" else np.float32) for k, v in out.items()}


def extract(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(WINDOW, ChangeTest.at_rate(FPS))
    for set_name, folder in SETS.items():
        for path in sorted(folder.glob("*.mp4")):
            target = cache / f"{set_name}__{path.stem}.npz"
            if target.exists():
                continue
            frames = list(sampled_frames(path, FPS))
            times = np.array([f.timestamp for f in frames], np.float32)
            images = [f.model_rgb(classifier.input_size) for f in frames]
            n = len(images)
            arrays = {"t": times}
            runs = {"full": (0, n)}
            if set_name != "changes":
                runs["second"] = (n // 2, n)
            for name, (a, b) in runs.items():
                arrays.update({f"{name}_{k}": v for k, v in run(classifier, images[a:b]).items()})
            for name, index in (("frozen_q", n // 4), ("frozen_h", n // 2)):
                arrays.update({f"{name}_{k}": v for k, v in run(classifier, [images[index]] * FROZEN_FRAMES).items()})
            if set_name == "changes":  # a fresh stream from each segment's start, as teaching from it does
                for i, (a_s, b_s) in enumerate(segments(path.name)):
                    idx = np.flatnonzero((times >= a_s - 1e-3) & (times < b_s - 1e-3))
                    arrays.update({f"seg{i}_{k}": v
                                   for k, v in run(classifier, [images[j] for j in idx]).items()})
                    middle = images[idx[len(idx) // 2]]
                    frozen = run(classifier, [middle] * FROZEN_FRAMES)
                    arrays.update({f"segfrozen{i}_{k}": v for k, v in frozen.items()})
            np.savez(target, **arrays)
            print(target.name, n, flush=True)


def extract_rooms(cache: Path, folder: Path) -> None:
    """The takes of another folder with a SEGMENTS.tsv (docs/research/rooms/): the whole take and each segment
    (a fresh stream from its start, as teaching from a part starts one), as `rooms__<take>.npz`."""
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(WINDOW, ChangeTest.at_rate(FPS))
    rows = [line.split("\t") for line in (folder / "SEGMENTS.tsv").read_text().splitlines()[1:]]
    for file in dict.fromkeys(r[0] for r in rows):
        target = cache / f"rooms__{Path(file).stem}.npz"
        if target.exists():
            continue
        frames = list(sampled_frames(folder / file, FPS))
        times = np.array([f.timestamp for f in frames], np.float32)
        images = [f.model_rgb(classifier.input_size) for f in frames]
        arrays = {"t": times, **{f"full_{k}": v for k, v in run(classifier, images).items()}}
        for i, (a_s, b_s) in enumerate(sorted((float(r[1]), float(r[2])) for r in rows if r[0] == file)):
            idx = np.flatnonzero((times >= a_s - 1e-3) & (times < b_s - 1e-3))
            arrays.update({f"seg{i}_{k}": v for k, v in run(classifier, [images[j] for j in idx]).items()})
        np.savez(target, **arrays)
        print(target.name, len(images), flush=True)


def segments(file: str) -> list[tuple[float, float, str]]:
    rows = [line.split("\t") for line in (MEDIA / "changes" / "SEGMENTS.tsv").read_text().splitlines()[1:]]
    return [(float(r[1]), float(r[2])) for r in rows if r[0] == file]




# ---- the heads compared, on the recorded features ----------------------------------------------------------

def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def load(cache: Path) -> dict:
    data = {}
    for path in sorted(cache.glob("*.npz")):
        set_name, clip = path.stem.split("__")
        with np.load(path) as z:
            data[(set_name, clip)] = {k: z[k] for k in z.files}
    return data


def frame_terms(r: dict, k_max: int, decay: float = 1.0) -> dict:
    """Per frame: the window mean (emb), its softmax (prob), the mean of the last k_max per-frame features (S),
    their mean absolute change (D), and that change relative to S's length (m). decay < 1 weighs a frame of age
    a by decay**a (the newest 1) in S and D."""
    f, n = r["feat"], r["n"]
    short, change = np.zeros_like(f), np.zeros_like(f)
    m = np.zeros(len(f), np.float32)

    def weights(count: int) -> np.ndarray:
        w = decay ** np.arange(count, dtype=np.float64)[::-1]
        return (w / w.sum()).astype(np.float32)

    for i in range(len(f)):
        k = min(k_max, int(n[i]), i + 1)
        seg = f[i - k + 1:i + 1]
        short[i] = weights(k) @ seg
        if k >= 2:
            change[i] = weights(k - 1) @ np.abs(np.diff(seg, axis=0))
            m[i] = np.linalg.norm(change[i]) / max(float(np.linalg.norm(short[i])), 1e-9)
    out = {"emb": r["emb"], "prob": r["prob"], "S": short, "D": change, "m": m, "n": n}
    if LOGITS[0]:
        rl = recent_logits(short)
        rp = np.exp(rl - rl.max(-1, keepdims=True))
        log_p = np.log(np.maximum(r["prob"], 1e-8))
        out.update(wl=centred_logits(log_p), rl=centred_logits(rl),
                   rp=(rp / rp.sum(-1, keepdims=True)).astype(np.float32),
                   w5=centred_logits(recent_logits(last_mean(f, n, MID_FRAMES))),
                   wc=centred_logits(off_running_mean(log_p - log_p.mean(-1, keepdims=True), RUNNING_FRAMES)))
    return out


MID_FRAMES = 25  # w5: the logits of the last 5 s of the window (a mean of per-frame features)
RUNNING_FRAMES = 300  # wc: the stream's running mean of its centred logits, over about a minute


def last_mean(features: np.ndarray, n: np.ndarray, k_max: int) -> np.ndarray:
    """Per frame, the mean of the last k_max per-frame features of its window (fewer when the window holds fewer)."""
    out = np.zeros_like(features)
    for i in range(len(features)):
        k = min(k_max, int(n[i]), i + 1)
        out[i] = features[i - k + 1:i + 1].mean(0)
    return out


def segment_mean(features: np.ndarray, n: np.ndarray, cuts: np.ndarray, settle: int = 10) -> np.ndarray:
    """Per frame, the mean of its window's per-frame features since the last cut (at least the last `settle`
    frames: those after a cut straddle it, as the change test's settle keeps them)."""
    out = np.zeros_like(features)
    for i in range(len(features)):
        since = i + 1 - max([c for c in cuts if c <= i], default=0)
        k = min(int(n[i]), i + 1, max(since, settle))
        out[i] = features[i - k + 1:i + 1].mean(0)
    return out


def off_running_mean(values: np.ndarray, frames: int) -> np.ndarray:
    """Each frame's values less the stream's running mean of the frames before it (an exponential mean with a time
    constant of `frames`, weighed from the stream's start: what the stream has shown so far; 0 for the first)."""
    out, total, weight, keep = np.empty_like(values), np.zeros(values.shape[1]), 0.0, 1.0 - 1.0 / frames
    for i, v in enumerate(values):
        out[i] = v - (total / weight if weight else 0.0)
        total, weight = keep * total + v, keep * weight + 1.0
    return out


def classifier_head() -> tuple:
    """The model's classifier after the head pool (480 -> 2048, ReLU6, -> 600), dequantized from the int8 model, so
    that the class logits of any mean of per-frame features (not only the window's) can be computed."""
    interpreter = load_runtime("auto").interpreter_class(model_path=str(MODEL))
    interpreter.allocate_tensors()
    tensors = {d["name"]: d for d in interpreter.get_tensor_details()}

    def value(part: str, rank: int) -> np.ndarray:
        d = next(d for n, d in tensors.items() if n.startswith(part) and len(d["shape"]) == rank)
        v = interpreter.get_tensor(d["index"]).astype(np.float64)
        scales = d["quantization_parameters"]["scales"]
        return (v.reshape(v.shape[0], -1) * scales[:, None]) if rank > 1 else v * scales

    return (value("movinet_classifier/classifier_head/head/conv2d/conv2d/Conv2D", 4),
            value("classifier_head/head/conv2d/conv2d/bias", 1),
            value("movinet_classifier/classifier_head/classifier/conv2d/conv2d_1/Conv2D", 4),
            value("movinet_classifier/classifier_head/classifier/conv2d/conv2d_1/BiasAdd", 1))


HEAD: list = []  # classifier_head(), loaded on first use


def centred_logits(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities less their mean over the classes, as unit vectors: the whole class profile, where the
    softmax keeps only its top."""
    return unit(logits - logits.mean(-1, keepdims=True))


def recent_logits(recent: np.ndarray) -> np.ndarray:
    """The model's class logits of the recent per-frame features' mean (what the model would say of the last 2 s)."""
    if not HEAD:
        HEAD.extend(classifier_head())
    w1, b1, w2, b2 = HEAD
    return np.clip(recent @ w1.T + b1, 0.0, 6.0) @ w2.T + b2


def pick(f: dict, idx) -> dict:
    return {k: v[idx] for k, v in f.items()}


MIN_FRAMES = [5]  # the windows taught and scored: at least 1 s (a list: the study can change it)
LOGITS = [False]  # also the logit terms (wl, rl, rb): the `logits` comparison only
DECAY = [1.0]  # the recent frames' weight per frame of age (1: a plain mean, as the app)


def taught_part(f: dict, a: int = 0, b: int | None = None) -> dict:
    """The examples teaching keeps from frames [a, b): windows of at least MIN_FRAMES."""
    idx = np.arange(len(f["n"]))[a:b]
    return pick(f, idx[f["n"][idx] >= MIN_FRAMES[0]])


def fit(e: dict) -> dict:
    logit_means = ({"wl": unit(e["wl"].mean(0)), "rl": unit(e["rl"].mean(0)), "rp": np.sqrt(e["rp"].mean(0)),
                    "w5": unit(e["w5"].mean(0)), "wc": unit(e["wc"].mean(0)), "wo": unit(e["wo"].mean(0))}
                   if "wl" in e else {})
    return {**logit_means, "emb": unit(unit(e["emb"]).mean(0)), "prob": np.sqrt(e["prob"].mean(0)),
            "S": unit(unit(e["S"]).mean(0)), "D": unit(unit(e["D"]).mean(0)), "m": float(np.median(e["m"])),
            "cs_self": float(np.median(unit(e["S"]) @ unit(unit(e["S"]).mean(0))))}


def terms(f: dict, m: dict) -> dict:
    out = {"ce": unit(f["emb"]) @ m["emb"], "bc": np.sqrt(f["prob"]) @ m["prob"],
           "cs": unit(f["S"]) @ m["S"], "cd": unit(f["D"]) @ m["D"]}
    if "wl" in f:  # wl: the window's centred logits, rl: the recent features' (cosines); rb: bc of the recent softmax
        out.update(wl=f["wl"] @ m["wl"], rl=f["rl"] @ m["rl"], rb=np.sqrt(f["rp"]) @ m["rp"],
                   w5=f["w5"] @ m["w5"], wc=f["wc"] @ m["wc"], wo=f["wo"] @ m["wo"])
    return out


class Head:
    """Weighted mean of the terms (ce: window cosine, cs: short-window cosine, bc: Bhattacharyya of the
    softmax, cd: cosine of the change vectors) >= tau, and the motion m >= rho x the action's median motion.
    An action with a "background" (fit() of a background session) is also required to be closer to itself than
    to it: mean of `against` terms for the action - for the background >= margin."""

    def __init__(self, models: dict, weights: dict, tau: float, rho: float, against: tuple = ("cs", "cd"),
                 margin: float = 0.0, route: tuple | None = None) -> None:
        # (term, floor[, gates]): a second way in, that term >= floor with the motion floor, and each gate's term
        # >= its floor ("s": the head's similarity); the background, if any, is checked on it too
        self.route = route
        self.gates = {k[1:]: v for k, v in weights.items() if k.startswith(">")}  # ">cs": 0.6, a floor
        weights = {k: v for k, v in weights.items() if not k.startswith(">")}
        self.names, self.models = list(models), list(models.values())
        self.weights, self.tau, self.rho = weights, tau, rho
        self.against, self.margin = against, margin

    def scores(self, f: dict) -> np.ndarray:
        out = np.full((len(f["n"]), len(self.models)), -9.0)
        for j, m in enumerate(self.models):
            t = terms(f, m)
            s = sum(w * t[k] for k, w in self.weights.items()) / sum(self.weights.values())
            ok = (f["m"] >= self.rho * m["m"]) & (f["n"] >= MIN_FRAMES[0])
            for term, floor in self.gates.items():
                ok &= t[term] >= (floor if floor > 0 else -floor * m["cs_self"])  # negative: x the own median
            if "background" in m:
                b = terms(f, m["background"])
                ok &= sum(t[k] - b[k] for k in self.against) / len(self.against) >= self.margin
            out[:, j] = np.where(ok, s, -9.0)
            if self.route:
                term, floor, gates = (*self.route, {})[:3]
                alone = (f["m"] >= self.rho * m["m"]) & (f["n"] >= MIN_FRAMES[0]) & (t[term] >= floor)
                for gate, at in gates.items():  # "motion": a share of the action's median motion
                    alone &= ((s if gate == "s" else f["m"] / m["m"] if gate == "motion" else t[gate]) >= at)
                if "background" in m:
                    alone &= sum(t[k] - b[k] for k in self.against) / len(self.against) >= self.margin
                out[:, j] = np.maximum(out[:, j], np.where(alone, self.tau + t[term] - floor, -9.0))
        return out

    def top(self, f: dict) -> np.ndarray:
        s = self.scores(f)
        j = s.argmax(1)
        return np.where(s[np.arange(len(j)), j] >= self.tau, np.array(self.names, object)[j], "none")


PAIRS = [("push_ups_9syed", "push_ups_ggperroni"), ("push_ups_ggperroni", "push_ups_9syed"),
         ("tai_chi_charl0tte19", "tai_chi_stgcn_skeleton"), ("tai_chi_stgcn_skeleton", "tai_chi_charl0tte19")]
ACTION = {"push_ups_9syed": "push_ups", "push_ups_ggperroni": "push_ups", "tai_chi_charl0tte19": "tai_chi",
          "tai_chi_stgcn_skeleton": "tai_chi"}  # the action each teach/ clip shows
CHANGES = [("walk_sip_sit_charades_univtg", 1), ("long_jump_broadcast_bmt", 3), ("long_jump_broadcast_bmt", 6)]


class Study:
    def __init__(self, cache: Path) -> None:
        self.data = load(cache)
        self.shared = [c for s, c in self.data if s == "shared"]
        self.val = [c for s, c in self.data if s == "val"]
        self._terms: dict = {}
        rows = [line.split("\t") for line in (MEDIA / "changes" / "SEGMENTS.tsv").read_text().splitlines()[1:]]
        self.segments = rows
        self.boundaries = {("changes", Path(r[0]).stem): [] for r in rows}  # the segments' starts, for wo
        for r in rows:
            self.boundaries[("changes", Path(r[0]).stem)].append(float(r[1]))

    def add_boundaries(self, set_name: str, folder: Path) -> None:
        for r in (line.split("\t") for line in (folder / "SEGMENTS.tsv").read_text().splitlines()[1:]):
            self.boundaries.setdefault((set_name, Path(r[0]).stem), []).append(float(r[1]))

    def terms(self, set_name: str, clip: str, run_name: str, k: int) -> dict:
        key = (set_name, clip, run_name, k, DECAY[0], LOGITS[0])
        if key not in self._terms:
            d = self.data[(set_name, clip)]
            r = {x[len(run_name) + 1:]: v for x, v in d.items() if x.startswith(run_name + "_")}
            self._terms[key] = frame_terms(r, k, DECAY[0])
            if LOGITS[0]:  # wo: the logits of the window cut where the video's segments change (an ideal change test)
                starts = self.boundaries.get((set_name, clip), []) if run_name == "full" else []
                cuts = np.searchsorted(d["t"], np.array(starts) - 1e-3)
                self._terms[key]["wo"] = centred_logits(recent_logits(segment_mean(r["feat"], r["n"], cuts)))
        return self._terms[key]

    def evaluate(self, weights: dict, tau: float, rho: float, k: int, one_shot: bool = False,
                 shared: list[str] | None = None, only_shared: bool = False, route: tuple | None = None) -> dict:
        def head(models):
            return Head(models, weights, tau, rho, route=route)

        def taught(set_name, clip, run_name="full", half=False):
            f = self.terms(set_name, clip, run_name, k)
            return fit(taught_part(f, 0, 10 if one_shot else (len(f["n"]) // 2 if half else None)))

        def scored(set_name, clip, run_name):
            return pick(self.terms(set_name, clip, run_name, k), slice(10, None))

        shared = shared or self.shared
        sh = {c: taught("shared", c, half=True) for c in shared}
        out: dict = {}
        h = head(sh)
        tops = {c: h.top(scored("shared", c, "second")) for c in shared}
        out["half_right"] = float(np.mean(np.concatenate([t == c for c, t in tops.items()])))
        out["confusion"] = {c: {str(x): int((t == x).sum()) for x in sorted(set(t))} for c, t in tops.items()}
        frozen = {c: h.top(scored("shared", c, "frozen_q")) == "none" for c in shared}
        out["frozen_none"] = float(np.mean(np.concatenate(list(frozen.values()))))
        out["frozen_per_clip"] = {c: [int(v.sum()), len(v)] for c, v in frozen.items()}
        out["half_per_clip"] = {c: [int((t == c).sum()), len(t)] for c, t in tops.items()}
        if only_shared:
            return out
        none = []
        for chosen in itertools.combinations(shared, len(shared) // 2):
            h4 = head({c: sh[c] for c in chosen})
            none += [h4.top(scored("shared", c, "full")) == "none" for c in shared if c not in chosen]
        out["open_set_none"] = float(np.mean(np.concatenate(none)))
        changes = {}
        for clip, seg in CHANGES:
            h1 = head({"A": taught("changes", clip, f"seg{seg}")})
            tops = h1.top(self.terms("changes", clip, "full", k))
            t = self.data[("changes", clip)]["t"]
            other, action = [], []
            for row in (r for r in self.segments if r[0] == clip + ".mp4"):
                idx = np.flatnonzero((t >= float(row[1]) - 1e-3) & (t < float(row[2]) - 1e-3))
                (other if row[3].startswith("other") else action).append(tops[idx])
            frozen = h1.top(scored("changes", clip, f"segfrozen{seg}"))
            changes[f"{clip} seg{seg}"] = {"other_none": round(float(np.mean(np.concatenate(other) == "none")), 3),
                                          "action_found": round(float(np.mean(np.concatenate(action) == "A")), 3),
                                          "frozen_none": round(float(np.mean(frozen == "none")), 3)}
        out["changes"] = changes
        out["changes_other_none"] = float(np.mean([v["other_none"] for v in changes.values()]))
        everything = dict(sh, squats=taught("teach", "squats_farzadmalik"))
        cross = {}
        for a, b in PAIRS:
            action = ACTION[a]
            models = dict(everything)
            for x, _ in PAIRS:  # the other action, taught from its first clip
                if ACTION[x] != action and ACTION[x] not in models:
                    models[ACTION[x]] = taught("teach", x)
            models[action] = taught("teach", a)
            t = head(models).top(scored("teach", b, "full"))
            cross[f"{a}->{b}"] = {"found": round(float(np.mean(t == action)), 3),
                                  "tops": {str(x): int((t == x).sum()) for x in sorted(set(t))}}
        out["cross"] = cross
        out["cross_found"] = float(np.mean([v["found"] for v in cross.values()]))
        models = dict(sh, push_ups=taught("teach", "push_ups_9syed"), tai_chi=taught("teach", "tai_chi_charl0tte19"))
        hu = head(models)
        per = {c: hu.top(scored(s, c, "full")) == "none"
               for s, c in [("val", v) for v in self.val] + [("teach", "squats_farzadmalik")]}
        out["untaught_none"] = float(np.mean(np.concatenate(list(per.values()))))
        out["untaught_per_clip"] = {c: round(float(v.mean()), 2) for c, v in per.items()}
        return out


SUMMARY = ("half_right", "frozen_none", "open_set_none", "changes_other_none", "cross_found", "untaught_none")


def leave_one_clip_out(study: Study, gates: list[float]) -> dict:
    """The recent-cosine floor chosen without each shared clip (the strictest that keeps half >= 0.95 and frozen
    >= 0.95 on the other seven), then that clip's half and frozen rows with it."""
    half, frozen, chosen = [0, 0], [0, 0], {}
    for held_out in study.shared:
        others = [c for c in study.shared if c != held_out]
        fine = [g for g in gates
                if (lambda r: r["half_right"] >= 0.95 and r["frozen_none"] >= 0.95)(
                    study.evaluate({"bc": 1, "cs": 1, "cd": 1, ">cs": g}, 0.5, 0.5, 10, shared=others,
                                   only_shared=True))]
        gate = max(fine) if fine else min(gates)
        chosen[held_out] = gate
        r = study.evaluate({"bc": 1, "cs": 1, "cd": 1, ">cs": gate}, 0.5, 0.5, 10, only_shared=True)
        for total, part in ((half, r["half_per_clip"][held_out]), (frozen, r["frozen_per_clip"][held_out])):
            total[0], total[1] = total[0] + part[0], total[1] + part[1]
    return {"floor_chosen": chosen, "half_right": half, "frozen_none": frozen}


def not_kinetics(study: Study) -> dict:
    """`other:` segments of changes/ taught from their first half (a fresh stream from the segment's start): found
    on the segment's second half of the whole video's run, and none on every other segment."""
    head = {"bc": 1, "cs": 1, "cd": 1, ">cs": 0.45}
    out = {}
    for clip in ("walk_sip_sit_charades_univtg", "long_jump_broadcast_bmt"):
        rows = [r for r in study.segments if r[0] == clip + ".mp4"]
        t = study.data[("changes", clip)]["t"]
        full = study.terms("changes", clip, "full", 10)
        for i, row in enumerate(rows):
            if not row[3].startswith("other") or float(row[2]) - float(row[1]) < 4.0:
                continue
            part = study.terms("changes", clip, f"seg{i}", 10)
            tops = Head({"A": fit(taught_part(part, 0, len(part["n"]) // 2))}, head, 0.5, 0.5).top(full)
            middle = (float(row[1]) + float(row[2])) / 2
            own = tops[(t >= middle) & (t < float(row[2]) - 1e-3)]
            rest = tops[(t < float(row[1]) - 1e-3) | (t >= float(row[2]) - 1e-3)]
            out[f"{clip}: {row[3]}"] = {"second_half_found": round(float(np.mean(own == "A")), 3),
                                        "frames": len(own), "elsewhere_none": round(float(np.mean(rest == "none")), 3)}
    return out


SHIPPED = {"bc": 1, "cs": 1, "cd": 1, ">cs": 0.45}
# Background sessions tried on changes/: (clip, taught segment) -> [(from s, to s, what the seconds show)]. Each is
# a fresh stream from the start of the segment that holds it, as --teach from a file part starts one.
BACKGROUNDS = {
    ("walk_sip_sit_charades_univtg", 1): [(7.75, 9.5, "after: sitting down"),
                                          (0.0, 2.75, "before: walking to the door"),
                                          (9.5, 19.0, "later: sitting still, first half")],
    ("long_jump_broadcast_bmt", 3): [(14.5, 16.0, "after: in the sand pit"),
                                     (16.0, 19.2, "later: walking back, first half"), (5.1, 8.4, "before: the crowd")],
    ("long_jump_broadcast_bmt", 6): [(33.5, 34.9, "after: in the sand pit (replay)"),
                                     (14.5, 16.0, "the first jump's sand pit"),
                                     (16.0, 19.2, "walking back, first half")],
}


def same_video_row(study: Study, clip: str, seg: int, background: dict | None, skip: np.ndarray | None = None,
                   against: tuple = ("cs", "cd"), margin: float = 0.0) -> tuple[int, int, float]:
    """The same-video row of one case: other frames none (outside `skip`), of how many, and the taught part found."""
    model = fit(taught_part(study.terms("changes", clip, f"seg{seg}", 10)))
    if background is not None:
        model["background"] = background
    tops = Head({"A": model}, SHIPPED, 0.5, 0.5, against, margin).top(study.terms("changes", clip, "full", 10))
    t = study.data[("changes", clip)]["t"]
    keep = np.ones(len(t), bool) if skip is None else ~skip
    other, action = [], []
    for row in (r for r in study.segments if r[0] == clip + ".mp4"):
        inside = (t >= float(row[1]) - 1e-3) & (t < float(row[2]) - 1e-3) & keep
        (other if row[3].startswith("other") else action).append(tops[inside])
    other_tops, action_tops = np.concatenate(other), np.concatenate(action)
    return int((other_tops == "none").sum()), len(other_tops), round(float(np.mean(action_tops == "A")), 3)


def background_session(study: Study) -> list[dict]:
    """A background session of the same camera: each case of changes/ judged without the background's seconds,
    with no background and with one, its similarity compared on the window terms too (bc, cs, cd) or on the
    recent ones (cs, cd), margin 0: a frame is the action only if closer to it than to the background."""
    out = []
    for (clip, seg), choices in BACKGROUNDS.items():
        rows = [r for r in study.segments if r[0] == clip + ".mp4"]
        t = study.data[("changes", clip)]["t"]
        for start, end, what in choices:
            index = next(i for i, r in enumerate(rows) if abs(float(r[1]) - start) < 1e-3)
            run = study.terms("changes", clip, f"seg{index}", 10)
            background = fit(taught_part(run, 0, round((end - start) * FPS)))
            skip = (t >= start - 1e-3) & (t < end - 1e-3)
            entry = {"case": f"{clip} seg{seg}", "background": f"{start}-{end} s, {what}",
                     "no background": same_video_row(study, clip, seg, None, skip)}
            for against in (("bc", "cs", "cd"), ("cs", "cd")):
                entry["+".join(against)] = same_video_row(study, clip, seg, background, skip, against)
            out.append(entry)
    return out


def frozen_reference(study: Study) -> dict:
    """A frozen frame recorded at teach time as each action's background: the shared clips' middle frame held
    10 s (frozen_h) as the reference, judged on the taught half's middle frame (frozen_q) and the second half;
    changes/ with the taught segment's middle frame held."""
    out = {}
    for against in (("bc", "cs", "cd"), ("cs", "cd")):
        models = {}
        for clip in study.shared:
            f = study.terms("shared", clip, "full", 10)
            models[clip] = dict(fit(taught_part(f, 0, len(f["n"]) // 2)),
                                background=fit(taught_part(study.terms("shared", clip, "frozen_h", 10))))
        head = Head(models, SHIPPED, 0.5, 0.5, against)
        frozen = np.concatenate([head.top(pick(study.terms("shared", c, "frozen_q", 10), slice(10, None))) == "none"
                                 for c in study.shared])
        half = np.concatenate([head.top(pick(study.terms("shared", c, "second", 10), slice(10, None))) == c
                               for c in study.shared])
        same = [same_video_row(study, clip, seg, fit(taught_part(study.terms("changes", clip, f"segfrozen{seg}", 10))),
                               None, against) for clip, seg in CHANGES]
        out["+".join(against)] = {"frozen_none": round(float(frozen.mean()), 3),
                                  "half_right": round(float(half.mean()), 3),
                                  "same_video_none": [round(n / total, 3) for n, total, _ in same]}
    return out


def same_video_misses(study: Study) -> list[dict]:
    """Every `other:` frame of changes/ the shipped head calls the taught action, with its terms."""
    out = []
    for clip, seg in CHANGES:
        model = fit(taught_part(study.terms("changes", clip, f"seg{seg}", 10)))
        f = study.terms("changes", clip, "full", 10)
        tops = Head({"A": model}, SHIPPED, 0.5, 0.5).top(f)
        t, found = study.data[("changes", clip)]["t"], terms(f, model)
        for row in (r for r in study.segments if r[0] == clip + ".mp4" and r[3].startswith("other")):
            for i in np.flatnonzero((t >= float(row[1]) - 1e-3) & (t < float(row[2]) - 1e-3) & (tops == "A")):
                out.append({"case": f"{clip} seg{seg}", "t": round(float(t[i]), 1), "segment": row[3],
                            **{k: round(float(found[k][i]), 2) for k in ("bc", "cs", "cd")},
                            "motion_share": round(float(f["m"][i] / model["m"]), 2)})
    return out


def logit_terms(study: Study) -> list[dict]:
    """The model's logits instead of its softmax: the window's (wl) as a second way in beside the shipped head,
    and the recent features' (rl, and rb: their softmax) in place of bc."""
    LOGITS[0] = True
    labels = load_labels(LABELS)
    out = []
    for clip in ACTION:  # what the model itself says of each teach/ clip, and where the action's own class ranks
        mean = study.terms("teach", clip, "full", 10)["prob"][10:].mean(0)
        own = labels.index(ACTION[clip].replace("_", " ").replace("push ups", "push up"))
        out.append({"clip": clip, "top": [[labels[i], round(float(mean[i]), 3)] for i in np.argsort(-mean)[:3]],
                    "own_class_rank": int((mean > mean[own]).sum()) + 1})
    for floor in (0.5, 0.45, 0.4):
        r = study.evaluate(SHIPPED, 0.5, 0.5, 10, route=("wl", floor))
        out.append({"head": f"shipped, or wl >= {floor} with the motion floor", **{x: round(r[x], 3) for x in SUMMARY},
                    "cross": {c: v["found"] for c, v in r["cross"].items()}})
    for weights in ({"rb": 1, "cs": 1, "cd": 1, ">cs": 0.45}, {"rl": 1, "cs": 1, "cd": 1, ">cs": 0.45},
                    {"rb": 1, "cd": 1}, {"rl": 1, "cd": 1}, {"rl": 1}, {"rb": 1}):
        r = study.evaluate(weights, 0.5, 0.5, 10)
        out.append({"head": weights, **{x: round(r[x], 3) for x in SUMMARY},
                    "cross": {c: v["found"] for c, v in r["cross"].items()}})
    LOGITS[0] = False
    return out


def same_video_pooled(study: Study, set_name: str, folder: Path, route: tuple | None) -> dict:
    """The same-video rows as `python -m benchmarks.teach` counts them (frames pooled over the cases of the folder's
    SEGMENTS.tsv): each taught part alone over the whole video, and with its background (the `other:` segment
    right after it) on the other frames but the background's."""
    from benchmarks.teach import same_video_cases
    rows = [line.split("\t") for line in (folder / "SEGMENTS.tsv").read_text().splitlines()[1:]]
    counts = {"none": 0, "frames": 0, "judged": 0, "none_without": 0, "none_with": 0, "found": 0, "own": 0}
    for case in same_video_cases(folder):
        clip = Path(case.file).stem
        starts = sorted(float(r[1]) for r in rows if r[0] == case.file)
        t = study.data[(set_name, clip)]["t"]
        full = study.terms(set_name, clip, "full", 10)
        other = np.any([(t >= a - 1e-3) & (t < b - 1e-3) for a, b in case.other], axis=0)
        for (a, b), (c, d) in zip(case.parts, case.backgrounds):
            model = fit(taught_part(study.terms(set_name, clip, f"seg{starts.index(a)}", 10)))
            background = fit(taught_part(study.terms(set_name, clip, f"seg{starts.index(c)}", 10)))
            alone = Head({"A": model}, SHIPPED, 0.5, 0.5, route=route).top(full)
            with_background = Head({"A": dict(model, background=background)}, SHIPPED, 0.5, 0.5,
                                   route=route).top(full)
            part = (t >= a - 1e-3) & (t < b - 1e-3)
            judged = other & ~((t >= c - 1e-3) & (t < d - 1e-3))
            counts["none"] += int((alone[other] == "none").sum())
            counts["frames"] += int(other.sum())
            counts["judged"] += int(judged.sum())
            counts["none_without"] += int((alone[judged] == "none").sum())
            counts["none_with"] += int((with_background[judged] == "none").sum())
            counts["found"] += int((alone[part] == "A").sum())
            counts["own"] += int(part.sum())
    return counts


GATED_FLOORS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
GATED = {  # name -> the route at a floor: (term, floor, gates)
    "wl": lambda floor: ("wl", floor),
    "wl, cs >= 0.3": lambda floor: ("wl", floor, {"cs": 0.3}),
    "wl, cs >= 0.3, cd >= 0.3": lambda floor: ("wl", floor, {"cs": 0.3, "cd": 0.3}),
    "wl, similarity >= 0.4": lambda floor: ("wl", floor, {"s": 0.4}),
    "w5": lambda floor: ("w5", floor),
    "w5, cs >= 0.3": lambda floor: ("w5", floor, {"cs": 0.3}),
    "wc": lambda floor: ("wc", floor),
    # added after the rows above were seen: the window cut at the true changes (the change test restarts it at
    # none of them), and a motion gate (the frozen frames let in move less than the action itself)
    "wo (cut at the true segments)": lambda floor: ("wo", floor),
    "wl, motion >= 1 x the action's": lambda floor: ("wl", floor, {"motion": 1.0}),
    "wo, motion >= 1 x the action's": lambda floor: ("wo", floor, {"motion": 1.0}),
    "wc, motion >= 1 x the action's": lambda floor: ("wc", floor, {"motion": 1.0}),
}


def loosest_floor(study: Study, route, shared: list[str] | None = None) -> float | None:
    """The rule, on the shared clips only: the loosest floor with half >= 0.95 and frozen >= 0.95 there, and at
    every stricter floor too (None: no floor keeps them)."""
    chosen = None
    for floor in sorted(GATED_FLOORS, reverse=True):
        r = study.evaluate(SHIPPED, 0.5, 0.5, 10, shared=shared, only_shared=True, route=route(floor))
        if r["half_right"] < 0.95 or r["frozen_none"] < 0.95:
            break
        chosen = floor
    return chosen


def gated_logits(study: Study, rooms: Path | None) -> list[dict]:
    """The window's logits as a second way in, gated: each variant's floor chosen by the rule on the shared clips
    (and without each of them in turn), then every judging row beside the shipped head's."""
    LOGITS[0] = True
    if rooms is not None:
        study.add_boundaries("rooms", rooms)
    out = []
    for name, route in [("shipped", None), *GATED.items()]:
        floor = loosest_floor(study, route) if route else None
        if route and floor is None:
            out.append({"route": name, "floor": None})
            continue
        chosen = route(floor) if route else None
        entry = {"route": name, "floor": floor}
        if route:  # leave one shared clip out: its floor chosen on the other seven, then its own rows
            half, frozen, floors = [0, 0], [0, 0], {}
            for held_out in study.shared:
                f = loosest_floor(study, route, [c for c in study.shared if c != held_out])
                floors[held_out] = f
                r = study.evaluate(SHIPPED, 0.5, 0.5, 10, only_shared=True, route=route(f if f else max(GATED_FLOORS)))
                for total, part in ((half, r["half_per_clip"][held_out]), (frozen, r["frozen_per_clip"][held_out])):
                    total[0], total[1] = total[0] + part[0], total[1] + part[1]
            entry["loco"] = {"floors": sorted(set(floors.values()), key=str), "half": half, "frozen": frozen}
        r = study.evaluate(SHIPPED, 0.5, 0.5, 10, route=chosen)
        entry.update({x: round(r[x], 3) for x in ("half_right", "frozen_none", "open_set_none", "cross_found",
                                                  "untaught_none")})
        entry["cross"] = {c: v["found"] for c, v in r["cross"].items()}
        entry["changes"] = same_video_pooled(study, "changes", MEDIA / "changes", chosen)
        if rooms is not None:
            entry["rooms"] = same_video_pooled(study, "rooms", rooms, chosen)
        out.append(entry)
        print(json.dumps(entry), flush=True)
    LOGITS[0] = False
    return out


def recent_decay(study: Study) -> list[dict]:
    """The recent frames weighed by age (decay**age) instead of alike, and a 1 s recent window, with the shipped
    head's floors."""
    out = []
    for decay in (1.0, 0.9, 0.8, 0.7):
        DECAY[0] = decay
        for floor in (0.45, 0.5):
            r = study.evaluate({"bc": 1, "cs": 1, "cd": 1, ">cs": floor}, 0.5, 0.5, 10)
            out.append({"decay": decay, "cs_floor": floor, **{x: round(r[x], 3) for x in SUMMARY}})
    DECAY[0] = 1.0
    for floor in (0.45, 0.5):
        r = study.evaluate({"bc": 1, "cs": 1, "cd": 1, ">cs": floor}, 0.5, 0.5, 5)
        out.append({"recent_frames": 5, "cs_floor": floor, **{x: round(r[x], 3) for x in SUMMARY}})
    return out


if __name__ == "__main__":
    if sys.argv[1] == "extract":
        extract(Path(sys.argv[2]))
    elif sys.argv[1] == "extract-rooms":  # extract-rooms CACHE DIR: the takes DIR/SEGMENTS.tsv cuts
        extract_rooms(Path(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "loco":  # loco CACHE
        print(json.dumps(leave_one_clip_out(Study(Path(sys.argv[2])), [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6])))
    elif sys.argv[1] == "background":  # background CACHE: a background session of the same camera (changes/)
        for entry in background_session(Study(Path(sys.argv[2]))):
            print(json.dumps(entry))
    elif sys.argv[1] == "reference":  # reference CACHE: a frozen frame recorded at teach time
        print(json.dumps(frozen_reference(Study(Path(sys.argv[2]))), indent=1))
    elif sys.argv[1] == "misses":  # misses CACHE: the same-video frames the shipped head gets wrong
        for entry in same_video_misses(Study(Path(sys.argv[2]))):
            print(json.dumps(entry))
    elif sys.argv[1] == "decay":  # decay CACHE: how fast the recent-frames term lets go of an action
        for entry in recent_decay(Study(Path(sys.argv[2]))):
            print(json.dumps(entry), flush=True)
    elif sys.argv[1] == "logits":  # logits CACHE: the model's logits, of the window and of the recent frames
        for entry in logit_terms(Study(Path(sys.argv[2]))):
            print(json.dumps(entry), flush=True)
    elif sys.argv[1] == "gated":  # gated CACHE [ROOMS_DIR]: the window's logits as a gated second way in
        gated_logits(Study(Path(sys.argv[2])), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "other":  # other CACHE: actions that are not Kinetics classes
        print(json.dumps(not_kinetics(Study(Path(sys.argv[2]))), indent=1))
    elif sys.argv[1] == "compare":  # compare CACHE '[[weights, tau, rho, k], ...]'
        study = Study(Path(sys.argv[2]))
        for weights, tau, rho, k in json.loads(sys.argv[3]):
            r = study.evaluate(weights, tau, rho, k)
            print(json.dumps({"head": [weights, tau, rho, k], **{x: round(r[x], 3) for x in SUMMARY},
                              "changes": {c: [v["other_none"], v["action_found"]] for c, v in r["changes"].items()},
                              "cross": {c: v["found"] for c, v in r["cross"].items()}}), flush=True)
