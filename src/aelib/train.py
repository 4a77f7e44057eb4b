"""Training: one loop for every chapter.

:func:`fit` trains an autoencoder to reconstruct its input; :func:`fit_classifier` trains a
network on labels (the fine-tuning step of chapter *Pretraining*). Both share one loop: the data
moves to the device once, every epoch draws a seeded permutation, mini-batches are contiguous
slices of the permuted device tensor, and the loss is accumulated on the device so that the
loop never waits for the accelerator inside an epoch.

Hooks used by later chapters:

* ``penalty(model, x_input, z) -> scalar`` — added to the loss (sparsity, contraction, …);
* ``corruption(x, generator=...) -> x̃`` — applied afresh to every mini-batch; the model
  reconstructs the *clean* x from ``x̃`` (denoising);
* a model with a ``training_loss(x_input, x_target)`` method (the VAE) supplies its own objective.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import as_data_tensor, callable_arg, instance_of, nonnegative_float, one_of, positive_float, positive_int
from .device import pick_device
from .models import _predict, predict  # noqa: F401  (predict: also importable from here, as before)

__all__ = ["History", "StopTraining", "fit", "fit_classifier", "reconstruction_loss"]


class StopTraining(Exception):
    """Raise it in an ``on_epoch`` hook to end training after that epoch (early stopping, a time
    budget); :func:`fit` and :func:`fit_classifier` then return the :class:`History` so far."""


@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes
    ----------
    train_loss : list of float
        Mean training objective over the epoch's mini-batches (penalty included).
    val_loss : list of float
        Loss on ``x_val`` after each epoch (reconstruction only, no corruption or penalty);
        empty when no validation data was given.
    seconds : list of float
        Wall-clock seconds per epoch.
    val_accuracy : list of float
        Only for :func:`fit_classifier` with validation data.
    lr : list of float
        The learning rate at the start of each epoch (of the first parameter group).
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    n_examples: int = 0

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    @property
    def examples_per_second(self) -> float:
        return self.n_examples * self.epochs / max(self.total_seconds, 1e-12)

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4f}" if self.train_loss else "-"
        val = f", val_loss={self.val_loss[-1]:.4f}" if self.val_loss else ""
        return f"History(epochs={self.epochs}, train_loss={last}{val})"


def _bce(x_hat, x):
    return F.binary_cross_entropy(x_hat.clamp(1e-7, 1 - 1e-7), x)


def _sse(x_hat, x):
    return (x_hat - x).pow(2).sum(dim=1).mean()


_LOSSES = {"mse": F.mse_loss, "bce": _bce, "sse": _sse}


def reconstruction_loss(name_or_fn) -> Callable:
    """The loss ``L(x̂, x)`` for a name: ``"mse"`` (mean over pixels), ``"sse"`` (per-image sum,
    mean over images) or ``"bce"`` (binary cross-entropy, mean over pixels); callables pass through."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, str) and name_or_fn.lower() in _LOSSES:
        return _LOSSES[name_or_fn.lower()]
    raise ValueError(f"loss must be one of {sorted(_LOSSES)} or a callable(x_hat, x), got {name_or_fn!r}.")


def _accepts_generator(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "generator" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


_OPTIMIZERS = {
    "adam": lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "adamw": lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd),
}
DEFAULT_LR = 1e-3


def _make_optimizer(optimizer, params, lr, weight_decay):
    """An optimiser from a name (with ``lr``/``weight_decay``), a factory or an instance.

    A factory or an instance carries its own learning rate and weight decay, so passing ``lr``
    or ``weight_decay`` as well would be silently ignored: that is an error instead.
    """
    if isinstance(optimizer, str) and optimizer.lower() in _OPTIMIZERS:
        lr = DEFAULT_LR if lr is None else positive_float("lr", lr)
        return _OPTIMIZERS[optimizer.lower()](params, lr, nonnegative_float("weight_decay", weight_decay))
    if isinstance(optimizer, torch.optim.Optimizer) or (callable(optimizer) and not isinstance(optimizer, str)):
        given = [name for name, value in (("lr", lr), ("weight_decay", weight_decay)) if value]
        if given:
            raise ValueError(f"{' and '.join(given)} would be ignored: an optimizer instance or factory sets its "
                             "own. Set them in the optimizer, or pass optimizer='adam'.")
        opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else optimizer(params)
        return instance_of("what the optimizer factory returned", opt, torch.optim.Optimizer, "an Optimizer")
    raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, a callable(params) -> Optimizer "
                     f"or an Optimizer instance, got {optimizer!r}.")


def _make_scheduler(scheduler, optimizer, interval):
    if scheduler is None:
        return None
    interval = one_of("scheduler_interval", interval, ("epoch", "batch"))
    callable_arg("scheduler", scheduler, "(optimizer) -> LRScheduler, e.g. lambda opt: CosineAnnealingLR(opt, epochs)")
    made = scheduler(optimizer)
    if not hasattr(made, "step"):
        raise TypeError(f"the scheduler factory returned {type(made).__name__}, not a learning-rate scheduler.")
    if interval == "batch" and isinstance(made, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau watches a per-epoch loss: use scheduler_interval='epoch'.")
    return made


@contextlib.contextmanager
def _own_randomness(seed: int, device: torch.device):
    """Seed torch's global RNG for the duration of training and restore the caller's state after.

    Shuffling and corruption draw from fit's own generators; what cannot take a generator
    (dropout, the VAE's sampling, one-argument corruptions) draws from the global RNG, which is
    seeded here from ``seed`` and afterwards put back as it was. (Apple's MPS generator is not
    restored.)
    """
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def _progress_enabled(progress: bool) -> bool:
    return bool(progress) and os.environ.get("AELIB_PROGRESS", "1") != "0"


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_training(model, x_train, x_val, epochs, batch_size):
    """The checks :func:`fit` and :func:`fit_classifier` share; returns the checked arguments."""
    instance_of("model", model, nn.Module, "a torch.nn.Module")
    x_train = as_data_tensor("x_train", x_train, width=getattr(model, "input_dim", None))
    x_val = None if x_val is None else as_data_tensor("x_val", x_val, width=x_train.shape[1])
    return x_train, x_val, positive_int("epochs", epochs), positive_int("batch_size", batch_size)


def _run(model, tensors, batch_loss, *, epochs, batch_size, optimizer, seed, device, progress,
         evaluate=None, desc="fit", scheduler=None, scheduler_interval="epoch", on_epoch=None) -> History:
    """The shared loop. ``batch_loss(*batch_tensors) -> scalar``; ``evaluate() -> dict``;
    ``on_epoch(done, history)`` after every epoch.

    The loop written out in plain PyTorch is in chapter *Autoencoders*, section *The training
    loop*; this is the same loop plus the history, the scheduler and the progress bar.
    """
    n = tensors[0].shape[0]
    history = History(n_examples=n)
    batch_size = min(batch_size, n)
    shuffle_gen = torch.Generator().manual_seed(seed)
    initial_state = copy.deepcopy(model.state_dict())
    per_batch = scheduler is not None and scheduler_interval == "batch"
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    bar = None
    if _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)
    try:
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            perm = torch.randperm(n, generator=shuffle_gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, batch_size):
                rows = perm[lo:lo + batch_size]
                loss = batch_loss(*(t[rows] for t in tensors))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if per_batch:
                    scheduler.step()
                total += loss.detach() * len(rows)
            epoch_loss = (total / n).item()
            _sync(device)
            history.seconds.append(time.perf_counter() - start)
            if not math.isfinite(epoch_loss):
                model.load_state_dict(initial_state)
                raise FloatingPointError(f"the training loss became {epoch_loss} in epoch {epoch + 1}; the model "
                                         "was reset to its initial weights. Lower the learning rate (lr) or check "
                                         "the penalty weight.")
            history.train_loss.append(epoch_loss)
            if evaluate is not None:
                for key, value in evaluate().items():
                    getattr(history, key).append(value)
            if scheduler is not None and not per_batch:
                if plateau:
                    scheduler.step(history.val_loss[-1] if history.val_loss else epoch_loss)
                else:
                    scheduler.step()
            if bar is not None:
                post = {"loss": f"{epoch_loss:.4f}"}
                if history.val_loss:
                    post["val"] = f"{history.val_loss[-1]:.4f}"
                bar.set_postfix(post)
                bar.update(1)
            if on_epoch is not None:
                try:
                    on_epoch(epoch + 1, history)
                except StopTraining:
                    break
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return history


def fit(model: nn.Module, x_train, *, x_val=None, epochs: int = 10, batch_size: int = 128,
        lr: float | None = None, loss="mse", penalty=None, corruption=None, seed: int = 0, device=None,
        progress: bool = True, optimizer="adam", scheduler=None, scheduler_interval: str = "epoch",
        weight_decay: float = 0.0, parameters=None, mixed_precision: bool = False,
        on_epoch=None) -> History:
    """Train ``model`` to reconstruct ``x_train``: minimise ``L(x, g(f(x̃))) + penalty``.

    Parameters
    ----------
    model : Autoencoder
        Anything with ``encode``/``decode`` (or ``training_loss``, e.g. the VAE).
    x_train : torch.Tensor or ndarray, shape (n, input_dim)
    x_val : optional validation rows; their reconstruction loss is recorded each epoch.
    epochs, batch_size : int
    lr : float, optional
        Learning rate of a named optimiser (default ``1e-3``). An error with an optimiser
        factory or instance, which sets its own.
    loss : {"mse", "sse", "bce"} or callable(x_hat, x)
    penalty : callable(model, x_input, z) -> scalar tensor, optional
        Added to the loss each mini-batch (see :mod:`aelib.penalties`).
    corruption : callable(x, generator=...) -> tensor, optional
        Corrupts each mini-batch afresh; the target stays the clean batch (see :mod:`aelib.corrupt`).
    seed : int
        Seeds the shuffling (fit's own generator), the corruption (another one) and whatever
        draws from torch's global RNG during training (dropout, the VAE's sampling); the
        caller's global RNG state is restored afterwards. The model's initial weights are the
        caller's.
    device : str or torch.device, optional
        Defaults to :func:`aelib.device.pick_device`. The model is moved there; ``x_train`` is
        copied there once.
    progress : bool
        One tqdm bar per call, the loss as postfix (``AELIB_PROGRESS=0`` turns bars off).
    optimizer : {"adam", "adamw", "sgd"}, callable(params) -> Optimizer, or Optimizer
        A name (with ``lr`` and ``weight_decay``), a factory, or an optimiser to continue with.
    scheduler : callable(optimizer) -> LRScheduler, optional
        E.g. ``lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)``.
        Stepped after every epoch (``ReduceLROnPlateau`` with the validation loss, else the
        training loss), or after every mini-batch with ``scheduler_interval="batch"``.
        ``History.lr`` records the learning rate of each epoch.
    scheduler_interval : {"epoch", "batch"}
    weight_decay : float
    parameters : iterable of parameters, optional
        Train only these (default: all of the model's).
    mixed_precision : bool
        Run the forward pass (encoder, decoder, penalty) under ``torch.autocast`` with bfloat16 on
        the CPU or a CUDA GPU; weights, gradients, optimiser state and the loss stay float32. It
        pays only where bfloat16 is native (CPUs with AVX-512 BF16 or AMX, recent GPUs); elsewhere
        it is emulated and slower (``benchmarks/bench_ae_vs_pca.py`` measures before it chooses;
        the appendix *How fast, how good* has the numbers). Validation losses are computed in full
        precision.
    on_epoch : callable(done, history), optional
        Called after every epoch with the number of epochs done and the :class:`History` so far
        (e.g. to move a progress bar, as :func:`aelib.widgets.fit_with_progress` does, or to log).
        Raising :class:`StopTraining` there ends training after that epoch.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Bad sizes, NaN/inf inputs, data whose width does not match the model, or
        ``mixed_precision`` on a device other than the CPU or CUDA.
    FloatingPointError
        The loss became NaN/inf (the model is reset to its initial weights).
    """
    x_train, x_val, epochs, batch_size = _check_training(model, x_train, x_val, epochs, batch_size)
    own_objective = getattr(model, "training_loss", None)
    if own_objective is not None and (loss not in ("mse", None) or penalty is not None):
        raise ValueError(f"{type(model).__name__} has its own training_loss: leave loss and penalty at their defaults.")
    loss_fn = None if own_objective is not None else reconstruction_loss(loss)
    callable_arg("penalty", penalty, "(model, x_input, z) -> scalar tensor", optional=True)
    callable_arg("corruption", corruption, "(x, generator=None) -> tensor", optional=True)
    callable_arg("on_epoch", on_epoch, "(done, history)", optional=True)

    device = pick_device(device) if device is not None else pick_device()
    instance_of("mixed_precision", mixed_precision, bool, "True or False")
    if mixed_precision and device.type not in ("cpu", "cuda"):
        raise ValueError(f"mixed_precision (bfloat16 autocast) needs the CPU or CUDA, not {device.type!r}: pass False.")
    model.to(device)
    x_dev = x_train.to(device)
    x_val_dev = x_val.to(device) if x_val is not None else None
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1) if device.type != "mps" else None
    if corruption is not None and _accepts_generator(corruption):
        corrupt = lambda x: corruption(x, generator=noise_gen)  # noqa: E731
    else:
        corrupt = corruption

    def forward_context():
        if mixed_precision:
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def full_precision(t):
        return t.to(x_train.dtype) if mixed_precision else t

    def batch_loss(x):
        x_in = corrupt(x) if corrupt is not None else x
        with forward_context():
            if own_objective is not None:
                return full_precision(own_objective(x_in, x))
            z = model.encode(x_in)
            x_hat = model.decode(z)
            extra = full_precision(penalty(model, x_in, z)) if penalty is not None else None
        value = loss_fn(full_precision(x_hat), x)  # the loss itself at the data's precision
        return value if extra is None else value + extra

    def evaluate():
        with torch.no_grad():
            model.eval()
            total = 0.0
            for lo in range(0, len(x_val_dev), 4096):
                xb = x_val_dev[lo:lo + 4096]
                value = own_objective(xb, xb) if own_objective is not None else loss_fn(model(xb), xb)
                total += float(value) * len(xb)
        return {"val_loss": total / len(x_val_dev)}

    params = list(model.parameters() if parameters is None else parameters)
    opt = _make_optimizer(optimizer, params, lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, scheduler_interval)
    with _own_randomness(seed, device):
        return _run(model, (x_dev,), batch_loss, epochs=epochs, batch_size=batch_size, optimizer=opt,
                    seed=seed, device=device, progress=progress, desc="fit",
                    evaluate=evaluate if x_val is not None else None,
                    scheduler=sched, scheduler_interval=scheduler_interval, on_epoch=on_epoch)


def fit_classifier(model: nn.Module, x_train, y_train, *, x_val=None, y_val=None, epochs: int = 10,
                   batch_size: int = 128, lr: float | None = None, seed: int = 0, device=None,
                   progress: bool = True, optimizer="adam", scheduler=None, scheduler_interval: str = "epoch",
                   weight_decay: float = 0.0, parameters=None, on_epoch=None) -> History:
    """Train ``model`` (outputs class logits) with cross-entropy on integer labels ``y_train``.

    Same loop, checks and hooks as :func:`fit`; ``History.val_loss``/``val_accuracy`` are
    filled when ``x_val``/``y_val`` are given. ``parameters`` restricts training to some
    parameters (e.g. only a new output layer); ``on_epoch(done, history)`` is called after every
    epoch and may raise :class:`StopTraining`. See chapter *Pretraining deep networks*.
    """
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither.")
    x_train, x_val, epochs, batch_size = _check_training(model, x_train, x_val, epochs, batch_size)
    y_train = _labels("y_train", y_train, len(x_train))
    y_val = None if y_val is None else _labels("y_val", y_val, len(x_val))
    callable_arg("on_epoch", on_epoch, "(done, history)", optional=True)
    device = pick_device(device) if device is not None else pick_device()
    model.to(device)
    xs, ys = x_train.to(device), y_train.to(device)

    def batch_loss(x, y):
        return F.cross_entropy(model(x), y)

    def evaluate():
        with torch.no_grad():
            model.eval()
            logits = _predict(model, x_val, device=device)
            yv = y_val.to(logits.device)
            return {"val_loss": float(F.cross_entropy(logits, yv)),
                    "val_accuracy": float((logits.argmax(1) == yv).float().mean())}

    params = list(model.parameters() if parameters is None else parameters)
    opt = _make_optimizer(optimizer, params, lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, scheduler_interval)
    with _own_randomness(seed, device):
        return _run(model, (xs, ys), batch_loss, epochs=epochs, batch_size=batch_size, optimizer=opt,
                    seed=seed, device=device, progress=progress, desc="fit_classifier",
                    evaluate=evaluate if x_val is not None else None,
                    scheduler=sched, scheduler_interval=scheduler_interval, on_epoch=on_epoch)


def _labels(name, y, n) -> torch.Tensor:
    y = torch.as_tensor(y)
    if y.dim() != 1 or len(y) != n:
        raise ValueError(f"{name} must be a 1-D vector of {n} integer labels, got shape {tuple(y.shape)}.")
    if torch.is_floating_point(y) or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}.")
    if len(y) and y.min() < 0:
        raise ValueError(f"{name} has negative labels; classes must be 0 … n_classes-1.")
    return y.long()


