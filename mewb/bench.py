"""Benchmarks behind ``make bench``: model size and speed against ``r3d18``, and the pipeline.

Everything is measured side by side in one run, on one machine, and every model figure is also
given as a ratio to the dense ``r3d18`` measured in that same run (these machines are noisy:
medians of repeats after a warm-up, and ratios, are what to compare).

Model figures, per input size: parameters, FLOPs, training memory, forward and forward+backward
time per clip (CPU, and CUDA when available), inference and training throughput (clips/s) at the
demo batch size. Pipeline figures: flow ms per frame pair per backend, EVM ms per frame, a SynthME
preprocessing pass cold vs warm cache, and (when asked) one LOSO fold per variant.

Memory on the CPU: PyTorch has no peak-allocation counter for the CPU allocator, so training
memory is measured as parameters + gradients + the activations autograd saves for backward
(summed with ``saved_tensors_hooks`` during one forward pass), which is what dominates training
memory. On CUDA it is ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from mewb import jsonio
from mewb.models.complexity import REFERENCE, count_flops, count_parameters, example_inputs


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``quick()`` is the CI smoke setting (about a minute)."""

    sizes: tuple[tuple[int, int], ...] = ((16, 112), (2, 32))  # (T, H=W): the paper's input, the demo's (onset, apex)
    batch: int = 8  # demo batch size for throughput
    # Batch per input size where it differs from ``batch``: at 16x112x112 one r3d18 fwd+bwd of 8 clips
    # takes about 10 s on 2 cores, and per-clip times at 4 are the same within noise.
    batch_by_size: tuple[tuple[int, int, int], ...] = ((16, 112, 4),)  # (T, H=W, batch)
    repeats: int = 3  # timed rounds (median), after one warm-up; each round times every model once
    # `baseline` is r3d18's network (same code, same shapes), so it is not timed twice.
    models: tuple[str, ...] = ("r3d18", "flow_only", "improved", "dual", "full")
    devices: tuple[str, ...] = ("cpu", "cuda")  # cuda is skipped when unavailable
    precisions: tuple[str, ...] = ("fp32", "auto")  # auto: bf16 on CPUs with AMX/AVX512-BF16, fp16 on CUDA (skipped when fp32)
    # Activation layout (mewb.device.use_memory_format); each model's ratio is to r3d18 in the same layout.
    memory_formats: tuple[str, ...] = ("contiguous", "channels_last")
    pipeline: bool = True  # flow, EVM, cache figures
    synth_subjects: int = 4  # SynthME set for the preprocessing pass
    synth_clips: int = 6
    demo_folds: bool = True  # one LOSO fold of each demo variant with the demo's settings (quick: the quick report's)
    composite: bool = True  # the composite-sized flow_only LOSO (68 subjects, 442 flow images), fp32 and bf16
    step_profile: bool = True  # one composite training step profiled: issue #15's starting point and the recipe's
    reports_dir: str = "reports"  # where the last `make demo` report's stage timings are read from
    smoke: bool = False  # set by quick(): demo folds use the quick report's tiny data and variants

    @classmethod
    def quick(cls) -> "BenchConfig":
        return cls(sizes=((2, 32),), batch=4, repeats=3, synth_subjects=2, synth_clips=3, smoke=True)

    def batch_for(self, frames: int, size: int) -> int:
        return next((b for t, s, b in self.batch_by_size if (t, s) == (frames, size)), self.batch)


def _seconds(fn: Callable[[], object], device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def training_memory_bytes(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> int:
    """Parameters + gradients + activations saved for backward in one training step (CPU estimate).

    Each storage autograd keeps is counted once (a ReLU output saved by two ops is one buffer),
    and the parameters that convolutions save for their own backward are not activations.
    """
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(inputs)
    out.sum().backward()
    model.zero_grad(set_to_none=True)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return 2 * weights + sum(saved.values())


class _Subject:
    """One model with its inputs and the three timed steps (forward, forward+backward, train step)."""

    def __init__(self, name: str, *, frames: int, size: int, batch: int, device: torch.device,
                 precision: str = "fp32", memory_format: str = "contiguous") -> None:
        from mewb.device import memory_layout, use_memory_format
        from mewb.models import create_model
        from mewb.train.config import TrainConfig
        from mewb.train.loop import make_optimizer

        torch.manual_seed(0)
        self.name, self.device, self.batch, self.precision = name, device, batch, precision
        self.model = create_model(name)
        one = example_inputs(self.model, batch=1, frames=frames, size=size)
        self.row = {"model": name, "device": device.type, "input": f"{frames}x{size}x{size}", "batch": batch,
                    "precision": precision, "memory_format": memory_format}
        self.row["params"] = count_parameters(self.model)
        self.row["flops"] = count_flops(self.model, one)
        use_memory_format(self.model.to(device), memory_format)
        self.inputs = {k: v.to(device).contiguous(memory_format=memory_layout(memory_format))
                       for k, v in example_inputs(self.model, batch=batch, frames=frames, size=size).items()}
        self.labels = torch.zeros(batch, dtype=torch.long, device=device)
        self.optimizer = make_optimizer(self.model, TrainConfig(lr=1e-4))  # the optimiser training uses (fused AdamW)
        self.times: dict[str, list[float]] = {"forward": [], "forward_backward": [], "train_step": []}

    def _autocast(self):
        from mewb.device import autocast

        return autocast(self.device, self.precision)

    def forward(self) -> None:
        self.model.eval()
        with torch.inference_mode(), self._autocast():
            self.model(self.inputs)

    def forward_backward(self) -> None:
        self.model.train()
        self.model.zero_grad(set_to_none=True)
        with self._autocast():
            out = self.model(self.inputs)
        out.float().sum().backward()

    def train_step(self) -> None:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.model(self.inputs)
        torch.nn.functional.cross_entropy(logits.float(), self.labels).backward()
        self.optimizer.step()

    def memory(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.forward_backward()
            return torch.cuda.max_memory_allocated(self.device) / self.batch
        return training_memory_bytes(self.model, self.inputs) / self.batch

    def finish(self) -> dict:
        forward_s, backward_s, train_s = (statistics.median(self.times[k]) for k in ("forward", "forward_backward", "train_step"))
        self.row["forward_ms_per_clip"] = 1000 * forward_s / self.batch
        self.row["forward_backward_ms_per_clip"] = 1000 * backward_s / self.batch
        self.row["inference_clips_per_s"] = self.batch / forward_s
        self.row["train_clips_per_s"] = self.batch / train_s
        return self.row


def measure_models(
    names: list[str], *, frames: int, size: int, batch: int, repeats: int, device: torch.device,
    precision: str = "fp32", memory_format: str = "contiguous",
) -> list[dict]:
    """Every model figure for several models at one input size, measured side by side.

    Timing runs in rounds: each round times every model once, so a slow-down of the machine
    (another process, thermal throttling) hits all models alike and the ratios stay fair.
    """
    subjects = [_Subject(n, frames=frames, size=size, batch=batch, device=device, precision=precision,
                         memory_format=memory_format) for n in names]
    for subject in subjects:
        subject.row["train_memory_bytes"] = subject.memory()
        for step in (subject.forward, subject.forward_backward, subject.train_step):
            _seconds(step, device)  # warm-up: allocator, oneDNN/cuDNN algorithm choice
    for _ in range(repeats):
        for subject in subjects:
            for key in subject.times:
                subject.times[key].append(_seconds(getattr(subject, key), device))
    return [subject.finish() for subject in subjects]


RATIO_KEYS = {
    "params": "params_ratio",
    "flops": "flops_ratio",
    "train_memory_bytes": "memory_ratio",
    "forward_ms_per_clip": "forward_time_ratio",
    "forward_backward_ms_per_clip": "forward_backward_time_ratio",
}


def _same_setting(a: dict, b: dict) -> bool:
    return (a["input"] == b["input"] and a["device"] == b["device"] and a.get("precision", "fp32") == b.get("precision", "fp32")
            and a.get("memory_format", "contiguous") == b.get("memory_format", "contiguous"))


def add_ratios(rows: list[dict]) -> list[dict]:
    """Each row gets ``<figure>_ratio`` = its value / r3d18's (same input, device, precision and
    memory layout, same run) and ``speedup`` (r3d18's forward+backward time / its own)."""
    for row in rows:
        reference = next(r for r in rows if r["model"] == REFERENCE and _same_setting(r, row))
        for key, ratio in RATIO_KEYS.items():
            row[ratio] = row[key] / reference[key]
        row["forward_backward_speedup"] = reference["forward_backward_ms_per_clip"] / row["forward_backward_ms_per_clip"]
    return rows


def best_layout_speedups(rows: list[dict]) -> list[dict]:
    """Per model, input, device and precision: its fastest layout's forward+backward time against
    r3d18's fastest layout (what a user gets who picks ``train.memory_format`` per model)."""
    fastest: dict[tuple, dict] = {}  # (model, input, device, precision) -> its fastest row
    for row in rows:
        key = (row["model"], row["input"], row["device"], row.get("precision", "fp32"))
        if key not in fastest or row["forward_backward_ms_per_clip"] < fastest[key]["forward_backward_ms_per_clip"]:
            fastest[key] = row
    out = []
    for (model, *setting), best in fastest.items():
        ref = fastest.get((REFERENCE, *setting))
        if model == REFERENCE or ref is None:
            continue
        out.append({"model": model, "input": setting[0], "device": setting[1], "precision": setting[2],
                    "memory_format": best.get("memory_format", "contiguous"),
                    "reference_memory_format": ref.get("memory_format", "contiguous"),
                    "forward_backward_ms_per_clip": best["forward_backward_ms_per_clip"],
                    "reference_forward_backward_ms_per_clip": ref["forward_backward_ms_per_clip"],
                    "forward_backward_speedup": ref["forward_backward_ms_per_clip"] / best["forward_backward_ms_per_clip"]})
    return out


def model_benchmarks(config: BenchConfig, names: list[str] | None = None, *, progress: bool = True) -> list[dict]:
    names = list(names or config.models)
    if REFERENCE not in names:
        names.insert(0, REFERENCE)
    devices = [torch.device(d) for d in config.devices if d != "cuda" or torch.cuda.is_available()]
    from mewb.device import resolve_precision

    rows = []
    for device in devices:
        precisions = list(dict.fromkeys(resolve_precision(p, device) for p in config.precisions))
        for precision in precisions:
            for memory_format in config.memory_formats:
                for frames, size in config.sizes:
                    if progress:
                        print(f"  {device.type} {precision} {memory_format} {frames}x{size}x{size}: {', '.join(names)}", flush=True)
                    rows += measure_models(names, frames=frames, size=size, batch=config.batch_for(frames, size),
                                           repeats=config.repeats, device=device, precision=precision,
                                           memory_format=memory_format)
    return add_ratios(rows)


def synth_preprocessing(config: BenchConfig) -> dict:
    """A SynthME preprocessing pass (face clip + flow, EVM on) through the real pipeline, cold vs warm cache."""
    from mewb.data.cache import PreprocessCache
    from mewb.data.dataset import ClipDataset
    from mewb.data.preprocess import PreprocessConfig
    from mewb.data.readers import read_dataset
    from mewb.synth import SynthConfig, generate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synth"
        generate_dataset(root, SynthConfig(subjects=config.synth_subjects, clips_per_subject=config.synth_clips))
        samples, _report = read_dataset("synth", root)
        preprocess = PreprocessConfig(evm=True)
        dataset = ClipDataset(samples, preprocess, modalities=("frames", "flow"), cache=PreprocessCache(Path(tmp) / "cache"))
        start = time.perf_counter()
        dataset.warm(progress=False)
        cold = time.perf_counter() - start
        warm_times = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(len(dataset)):
                dataset[i]
            warm_times.append(time.perf_counter() - start)
        warm = statistics.median(warm_times)
    return {"clips": len(samples), "cold_s": cold, "warm_s": warm, "speedup": cold / warm, "config": preprocess.to_dict()}


def demo_folds(config: BenchConfig, *, progress: bool = True) -> dict:
    """`make demo`'s stages measured directly: SynthME generation, preprocessing (cold cache), and
    one LOSO fold (the first subject) of every demo variant, with the report's own settings.

    Each fold runs in this process with the demo's threads per fold; the demo runs ``workers`` such
    folds at once, so a LOSO run takes about ``ceil(subjects / workers)`` fold times
    (``projected_loso_s``). The report's real durations are in :func:`last_demo_timings`.
    """
    from mewb.data.readers import read_dataset
    from mewb.models import create_model
    from mewb.reports.driver import DEMO_VARIANTS, QUICK_VARIANTS, ReportSettings
    from mewb.rundir import RunDir
    from mewb.synth import SynthConfig, generate_dataset
    from mewb.train.fold import clip_dataset
    from mewb.train.runner import run_loso

    quick = config.smoke
    settings = ReportSettings.quick() if quick else ReportSettings()
    variants = QUICK_VARIANTS if quick else DEMO_VARIANTS
    execution = settings.resolved(variants[0]).execution.replace(device="cpu").resolved()
    out: dict = {"settings": f"recipe {settings.recipe}", "executor": execution.executor,
                 "workers": execution.workers, "threads_per_fold": execution.threads, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        root = generate_dataset(Path(tmp) / "synth", SynthConfig(**settings.synth))
        out["generation_s"] = time.perf_counter() - start
        samples, _report = read_dataset("synth", root)
        subjects = sorted({s.subject for s in samples})
        out["clips"], out["subjects"] = len(samples), len(subjects)
        cache = str(Path(tmp) / "cache")
        for variant in variants:
            resolved = settings.resolved(variant)  # exactly what notebook 10 trains with
            start = time.perf_counter()
            clip_dataset(samples, resolved.preprocess, create_model(variant).modalities, cache).warm(progress=False)
            prepared = time.perf_counter() - start  # 0 when an earlier variant already cached the same arrays
            run_dir = Path(tmp) / f"run-{variant}"
            # one fold here, with the threads a demo worker gets
            fold_execution = execution.replace(executor="inprocess", cache_dir=cache, progress=False)
            result = run_loso(samples, out=run_dir, execution=fold_execution, variant=variant,
                              train_config=resolved.train, preprocess_config=resolved.preprocess,
                              model_kwargs=resolved.model_kwargs, folds=[subjects[0]], dataset_name="synth")
            fold = RunDir.open(run_dir).fold_records()[0]
            out["variants"][variant] = {"preprocess_s": prepared, "fold_s": fold["seconds"],
                                        "projected_loso_s": fold["seconds"] * -(-len(subjects) // execution.workers),
                                        "fold_uf1": result.metrics["pooled"]["uf1"], "epochs": resolved.train.epochs}
            if progress:
                print(f"  one fold of {variant}: {fold['seconds']:.1f} s (preprocessing {prepared:.1f} s)", flush=True)
    return out


def composite_workload(config: BenchConfig, *, progress: bool = True) -> dict:
    """The composite-sized job of issue #15: the composite-shaped SynthME (``mewb synth --preset
    composite``: 68 subjects in three parts like SMIC, CASME II and SAMM, 250/109/83 = 442 clips),
    exported as 28x28 onset-apex flow images, then ``flow_only`` LOSO with the
    ``composite-flowimages`` recipe, once per precision (fp32 and this machine's ``auto``) in the
    same run. Smoke (``--quick``): the same three parts at 7% (6 subjects), 1 epoch."""
    from mewb.data.cache import PreprocessCache
    from mewb.data.export import export_flowimages
    from mewb.data.labels import MEGC3_CLASSES
    from mewb.data.readers import read_dataset
    from mewb.device import resolve_precision
    from mewb.synth.presets import generate_composite
    from mewb.train.runner import run_recipe

    overrides = ["train.epochs=1"] if config.smoke else []
    precisions = list(dict.fromkeys(resolve_precision(p, "cpu") for p in config.precisions))
    out: dict = {"recipe": "composite-flowimages", "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        root = generate_composite(Path(tmp) / "synth", seed=0, scale=0.07 if config.smoke else 1.0)
        samples = read_dataset("synth", root)[0]
        out["subjects"] = len({(s.dataset, s.subject) for s in samples})
        out["counts"] = [sum(s.label == k for s in samples) for k in range(len(MEGC3_CLASSES))]
        cache = PreprocessCache(Path(tmp) / "cache")
        export_flowimages(samples, Path(tmp) / "flow28", dataset="synth", class_names=MEGC3_CLASSES, cache=cache)
        out["generate_and_export_s"] = time.perf_counter() - start
        for precision in precisions:
            start = time.perf_counter()
            result = run_recipe(dataset="flowimages", data_root=Path(tmp) / "flow28", out=Path(tmp) / f"run-{precision}",
                                variant="flow_only", recipe="composite-flowimages",
                                overrides=[*overrides, f"train.precision={precision}", "execution.device=cpu"],
                                progress=False, cache_dir=cache.root)
            seconds = time.perf_counter() - start
            pooled = result.metrics["pooled"]
            out["runs"][precision] = {"loso_s": seconds, "uf1": pooled["uf1"], "uar": pooled["uar"],
                                      "epochs": result.config.train.epochs, "batch_size": result.config.train.batch_size,
                                      "workers": result.config.execution.workers}
            if progress:
                print(f"  composite flow_only LOSO {precision}: {seconds:.0f} s, UF1 {pooled['uf1']:.3f}", flush=True)
    if "fp32" in out["runs"] and len(out["runs"]) > 1:
        other = next(p for p in out["runs"] if p != "fp32")
        out["speedup"] = {other: out["runs"]["fp32"]["loso_s"] / out["runs"][other]["loso_s"]}
    return out


def step_profile(config: BenchConfig, *, steps: int = 6, top: int = 8) -> dict:
    """Where one ``flow_only`` training step on 28x28 flow images (the composite's) spends its time,
    profiled (``torch.profiler``, self CPU time, one thread, after warm-up steps) in two settings:

    - ``before``: issue #15's starting point: batch 8, fp32, contiguous layout, padded ``T = 1``
      convolutions (:func:`mewb.models.layers.conv.padded_single_frames`);
    - ``after``: the ``composite-flowimages`` recipe as it resolves here (batch, precision, layout),
      with the single-frame fast path.

    Figures are milliseconds per clip (a step's time divided by its batch), so the two compare.
    """
    from contextlib import nullcontext

    from torch.profiler import ProfilerActivity, profile

    from mewb.device import resolve_precision
    from mewb.models.layers.conv import padded_single_frames
    from mewb.recipe import resolve

    recipe = resolve("flow_only", "composite-flowimages").train
    settings = {
        "before": {"batch_size": 8, "precision": "fp32", "memory_format": "contiguous", "single_frame_fast_path": False},
        "after": {"batch_size": recipe.batch_size, "precision": resolve_precision(recipe.precision, "cpu"),
                  "memory_format": recipe.memory_format, "single_frame_fast_path": True},
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a fold worker of a 2-core pool
    out: dict = {"model": "flow_only", "input": "1x28x28", "threads": 1}
    try:
        for name, setting in settings.items():
            batch = setting["batch_size"] if not config.smoke else min(setting["batch_size"], 8)
            # frames=2: the onset -> apex flow, one 28x28 field per clip
            subject = _Subject("flow_only", frames=2, size=28, batch=batch, device=torch.device("cpu"),
                               precision=setting["precision"], memory_format=setting["memory_format"])
            with nullcontext() if setting["single_frame_fast_path"] else padded_single_frames():
                for _ in range(2):
                    subject.train_step()
                start = time.perf_counter()
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    for _ in range(steps):
                        subject.train_step()
                wall = time.perf_counter() - start
            events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
            events.sort(key=lambda e: -e.self_cpu_time_total)
            per_clip = 1e-3 / (steps * batch)  # profiler microseconds -> ms per clip
            out[name] = {**setting, "batch_size": batch, "ms_per_clip": 1000 * wall / (steps * batch),
                         "ops": {e.key: e.self_cpu_time_total * per_clip for e in events[:top]}}
    finally:
        torch.set_num_threads(threads)
    out["speedup"] = out["before"]["ms_per_clip"] / out["after"]["ms_per_clip"]
    return out


def last_demo_timings(reports_dir: str | Path) -> dict | None:
    """Stage durations of the newest full (not ``--quick``) report under ``reports_dir``, or None."""
    from mewb.reports.index import list_reports

    for report in list_reports(reports_dir):
        if report.get("timings") and not report.get("quick"):
            return {"report": str(Path(reports_dir) / report["folder"]), "created": report.get("created"),
                    **report["timings"]}
    return None


def environment_record() -> dict:
    """Machine, threads and versions, stored with every benchmark."""
    import importlib.metadata

    from mewb.device import cpu_threads

    versions = {}
    for package in ("torch", "numpy", "opencv-contrib-python-headless", "mewb"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_threads_available": cpu_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": versions,
    }


def run_benchmarks(config: BenchConfig, *, progress: bool = True) -> dict:
    from mewb.device import configure_torch_threads

    configure_torch_threads()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result: dict = {"started": started, "environment": environment_record(), "config": config.__dict__}
    if progress:
        print("models:", flush=True)
    result["models"] = model_benchmarks(config, progress=progress)
    result["best_layout"] = best_layout_speedups(result["models"])
    if config.step_profile:
        if progress:
            print("profile: one composite flow_only training step, before and after", flush=True)
        result["step_profile"] = step_profile(config)
    if config.pipeline:
        from mewb.data.timing import cache_cold_warm, evm_ms_per_frame, flow_ms_per_pair

        size = config.sizes[-1][1]
        repeats = max(2, config.repeats)
        if progress:
            print("pipeline: flow, EVM, cache, SynthME preprocessing", flush=True)
        result["flow_ms_per_pair"] = {"size": size, **flow_ms_per_pair(size=size, repeats=repeats)}
        result["evm_ms_per_frame"] = {"size": size, **evm_ms_per_frame(size=size, repeats=repeats)}
        result["cache_cold_warm"] = cache_cold_warm(size=size, clips=2 if config.repeats < 3 else 4)
        result["synth_preprocessing"] = synth_preprocessing(config)
    if config.demo_folds:
        if progress:
            print("demo: generation, preprocessing, one LOSO fold per variant", flush=True)
        result["demo_folds"] = demo_folds(config, progress=progress)
    if config.composite:
        if progress:
            print("composite-sized flow_only LOSO (68 subjects, 442 flow images at 28 px)", flush=True)
        result["composite"] = composite_workload(config, progress=progress)
    result["last_demo"] = last_demo_timings(config.reports_dir)
    return result


def format_markdown(result: dict) -> str:
    env = result["environment"]
    lines = [
        "# mewb benchmarks",
        "",
        f"Run {result['started']} on {env['processor']} ({env['threads']} torch threads), "
        f"CUDA: {env['cuda'] or 'none'}; torch {env['versions']['torch']}.",
        "Times are medians after a warm-up; every ratio is to r3d18 measured in the same run.",
        "",
        "## Models",
        "",
        "Each speed-up is to r3d18 in the same precision and memory layout (channels_last: activations "
        "stored (N, T, H, W, C)).",
        "",
        "| model | device | precision | layout | input | batch | params | GFLOPs | train MiB/clip | fwd ms/clip | "
        "fwd+bwd ms/clip | inference clips/s | train clips/s | params / r3d18 | FLOPs / r3d18 | fwd+bwd speed-up |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["models"]:
        lines.append(
            f"| {r['model']} | {r['device']} | {r.get('precision', 'fp32')} | {r.get('memory_format', 'contiguous')} | "
            f"{r['input']} | {r.get('batch', '')} | {r['params'] / 1e6:.2f} M | "
            f"{r['flops'] / 1e9:.2f} | "
            f"{r['train_memory_bytes'] / 2**20:.0f} | {r['forward_ms_per_clip']:.1f} | "
            f"{r['forward_backward_ms_per_clip']:.1f} | {r['inference_clips_per_s']:.1f} | {r['train_clips_per_s']:.1f} | "
            f"{r['params_ratio']:.1%} | {r['flops_ratio']:.1%} | {r['forward_backward_speedup']:.2f}x |"
        )
    if result.get("best_layout"):
        lines += ["", "Each model in its fastest layout against r3d18 in its own fastest layout:", "",
                  "| model | device | precision | input | layout | fwd+bwd ms/clip | r3d18 layout | r3d18 fwd+bwd ms/clip | speed-up |",
                  "| --- | --- | --- | --- | --- | ---: | --- | ---: | ---: |"]
        for r in result["best_layout"]:
            lines.append(f"| {r['model']} | {r['device']} | {r['precision']} | {r['input']} | {r['memory_format']} | "
                         f"{r['forward_backward_ms_per_clip']:.1f} | {r['reference_memory_format']} | "
                         f"{r['reference_forward_backward_ms_per_clip']:.1f} | {r['forward_backward_speedup']:.2f}x |")
    profile = result.get("step_profile")
    if profile:
        before, after = profile["before"], profile["after"]

        def setting(p: dict) -> str:
            return (f"batch {p['batch_size']}, {p['precision']}, {p['memory_format']}, "
                    f"{'single-frame fast path' if p['single_frame_fast_path'] else 'padded T = 1 convolutions'}")

        lines += ["", f"## Profile of one composite training step ({profile['model']}, {profile['input']}, "
                  f"{profile['threads']} thread)", "",
                  f"Before: {setting(before)}: {before['ms_per_clip']:.2f} ms per clip. "
                  f"After: {setting(after)}: {after['ms_per_clip']:.2f} ms per clip ({profile['speedup']:.2f}x).",
                  "", "| op (self CPU time) | before ms/clip | after ms/clip |", "| --- | ---: | ---: |"]
        for op in dict.fromkeys([*before["ops"], *after["ops"]]):
            cells = [f"{p['ops'][op]:.3f}" if op in p["ops"] else "" for p in (before, after)]
            lines.append(f"| {op} | {cells[0]} | {cells[1]} |")
    if "flow_ms_per_pair" in result:
        flow = result["flow_ms_per_pair"]
        evm = result["evm_ms_per_frame"]
        cache = result["cache_cold_warm"]
        synth = result["synth_preprocessing"]
        lines += [
            "",
            "## Pipeline",
            "",
            f"Flow, ms per {flow['size']}x{flow['size']} frame pair: "
            + ", ".join(f"{k} {v:.1f}" for k, v in flow.items() if k != "size"),
            "",
            f"EVM, ms per {evm['size']}x{evm['size']} frame: " + ", ".join(f"{k} {v:.2f}" for k, v in evm.items() if k != "size"),
            "",
            f"Cache (EVM + flow), cold {cache['cold_ms']:.0f} ms vs warm {cache['warm_ms']:.1f} ms: {cache['speedup']:.0f}x",
            "",
            f"SynthME preprocessing ({synth['clips']} clips, EVM + {synth['config']['flow_backend']} flow): "
            f"cold {synth['cold_s']:.2f} s, warm {synth['warm_s']:.3f} s, {synth['speedup']:.0f}x",
        ]
    if "demo_folds" in result:
        demo = result["demo_folds"]
        lines += [
            "",
            f"## One LOSO fold per variant ({demo['settings']} settings, {demo['clips']} clips, {demo['subjects']} subjects)",
            "",
            f"Each fold on {demo['threads_per_fold']} thread(s); the demo runs {demo['workers']} folds at once "
            f"({demo['executor']} executor), hence the projection.",
            "",
            f"SynthME generation {demo['generation_s']:.1f} s.",
            "",
            "| variant | preprocessing s (cold) | one fold s | projected LOSO s | epochs |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, v in demo["variants"].items():
            lines.append(f"| {name} | {v['preprocess_s']:.1f} | {v['fold_s']:.1f} | {v['projected_loso_s']:.0f} | {v['epochs']} |")
    composite = result.get("composite")
    if composite:
        lines += ["", f"## Composite-sized flow_only LOSO ({composite['subjects']} subjects, {sum(composite['counts'])} "
                  f"28x28 flow images, recipe {composite['recipe']})", "",
                  "| precision | epochs | batch | workers | LOSO wall s | UF1 | UAR |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for precision, r in composite["runs"].items():
            lines.append(f"| {precision} | {r['epochs']} | {r['batch_size']} | {r['workers']} | {r['loso_s']:.0f} | "
                         f"{r['uf1']:.3f} | {r['uar']:.3f} |")
        for precision, ratio in (composite.get("speedup") or {}).items():
            lines += ["", f"fp32 / {precision} wall time, same run: {ratio:.2f}x"]
    last = result.get("last_demo")
    if last:
        stages = ", ".join(f"{k[:-2].replace('_', ' ')} {v:.0f} s" for k, v in last.items() if k.endswith("_s"))
        lines += ["", "## The last `make demo`", "", f"{last['report']} ({last['created']}): {stages}"]
    return "\n".join(lines) + "\n"


def write_report(result: dict, out: Path) -> Path:
    """``bench.json``, ``bench.md`` and ``bench.html`` in ``out`` (a new folder: never overwritten)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} already holds a benchmark; choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(jsonio.dumps(result, indent=2))
    markdown = format_markdown(result)
    (out / "bench.md").write_text(markdown)
    (out / "bench.html").write_text(_markdown_table_html(markdown))
    return out


def _markdown_table_html(markdown: str) -> str:
    """Tiny Markdown -> HTML for our own tables and paragraphs (no extra dependency for one page)."""
    import html

    body, table = [], []

    def flush_table() -> None:
        if not table:
            return
        rows = [[html.escape(c.strip()) for c in line.strip("|").split("|")] for line in table if not set(line) <= set("|-: ")]
        head, *rest = rows
        body.append(
            "<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rest)
            + "</tbody></table>"
        )
        table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush_table()
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>mewb benchmarks</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
