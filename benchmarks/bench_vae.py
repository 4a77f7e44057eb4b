"""VAE: aelib's VAE + fit against the pytorch/examples recipe written as a plain loop.

The recipe (pytorch/examples ``vae/main.py``): 784-400-20 MLP, ReLU, Adam(lr=1e-3), batch 128,
loss = *summed* binary cross-entropy + KL over the mini-batch, batches from a shuffling
``DataLoader``. The plain loop below is our own code following that recipe. aelib trains the
same architecture with :func:`aelib.train.fit`, whose objective is the per-batch *mean* of the
negative ELBO: the same gradient direction divided by the batch size. Adam is nearly invariant
to a constant rescaling of the loss (only its ε term notices), so both should reach the same
bound; this benchmark checks it.

Both models are scored on the same test images with the same estimator (single-sample ELBO,
fixed seed, :func:`aelib.vae.elbo`; for the plain model an identical computation) and timed
per epoch (wall clock and process CPU time).
"""
from __future__ import annotations

import platform
import time

import torch
import torch.nn.functional as F
from torch import nn

import aelib
from aelib import train, vae

LATENT_DIM, HIDDEN, LR, BATCH = 20, 400, 1e-3, 128


class PlainVAE(nn.Module):
    """784-400-(20, 20) / 20-400-784, as in the recipe."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc_mu, self.fc_logvar = nn.Linear(784, HIDDEN), nn.Linear(HIDDEN, LATENT_DIM), nn.Linear(HIDDEN, LATENT_DIM)
        self.fc3, self.fc4 = nn.Linear(LATENT_DIM, HIDDEN), nn.Linear(HIDDEN, 784)

    def encode(self, x):
        hidden = F.relu(self.fc1(x))
        return self.fc_mu(hidden), self.fc_logvar(hidden)

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return torch.sigmoid(self.decode_logits(z)), mu, logvar


def plain_loss(x_hat, x, mu, logvar):
    bce = F.binary_cross_entropy(x_hat, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train_plain(x_train, epochs, seed, device):
    torch.manual_seed(seed)
    model = PlainVAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train), batch_size=BATCH, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    wall, cpu = [], []
    for _ in range(epochs):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train()
        for (x,) in loader:
            x = x.to(device)
            opt.zero_grad()
            x_hat, mu, logvar = model(x)
            loss = plain_loss(x_hat, x, mu, logvar)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return model, wall, cpu


@torch.no_grad()
def plain_test_neg_elbo(model, x, seed=0):
    """Single-sample −ELBO per example (BCE summed over pixels + KL), seeded like aelib.vae.elbo."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    total = 0.0
    for lo in range(0, len(x), 4096):
        xb = x[lo:lo + 4096].to(device)
        mu, logvar = model.encode(xb)
        eps = torch.randn((1, *mu.shape), generator=gen, device=device)[0]
        logits = model.decode_logits(mu + torch.exp(0.5 * logvar) * eps)
        bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
        total += float(bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()))
    return total / len(x)


def train_aelib(x_train, epochs, seed, device):
    torch.manual_seed(seed)
    model = vae.VAE(784, (HIDDEN,), LATENT_DIM)
    start_cpu = time.process_time()
    history = train.fit(model, x_train, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed, device=device,
                        progress=False)
    cpu = time.process_time() - start_cpu
    return model, history.seconds, [cpu / epochs] * epochs


def run(quick: bool = False) -> list[dict]:
    device = aelib.pick_device()
    aelib.seed_everything(0)
    n_train, n_test, epochs = (10_000, 2_000, 2) if quick else (None, None, 10)
    data = aelib.load_fashion_mnist(n_train=n_train, n_test=n_test)
    note = f"Fashion-MNIST {len(data.x_train)} train / {len(data.x_test)} test, {epochs} epochs, {device.type}"
    rows = []
    plain, wall_p, cpu_p = train_plain(data.x_train, epochs, 0, device)
    ours, wall_a, cpu_a = train_aelib(data.x_train, epochs, 0, device)
    results = {
        "pytorch/examples recipe (plain loop, summed loss)": (plain_test_neg_elbo(plain, data.x_test), wall_p, cpu_p),
        "aelib VAE + fit (mean loss)": (-vae.elbo(ours, data.x_test).elbo, wall_a, cpu_a),
    }
    for name, (neg_elbo, wall, cpu) in results.items():
        # the first epoch carries one-off costs (allocator warm-up, kernel selection): report the rest
        steady = slice(1, None) if len(wall) > 1 else slice(None)
        rows.append({"benchmark": f"vae: {name}", "metric": "test -ELBO", "value": neg_elbo, "unit": "nats/image",
                     "note": note})
        rows.append({"benchmark": f"vae: {name}", "metric": "wall time / epoch",
                     "value": sum(wall[steady]) / len(wall[steady]), "unit": "s", "note": note + "; first epoch excluded"})
        rows.append({"benchmark": f"vae: {name}", "metric": "CPU time / epoch", "value": sum(cpu) / len(cpu),
                     "unit": "s", "note": note + "; process time, all threads"})
    return rows


if __name__ == "__main__":
    import sys

    table = run(quick="--quick" in sys.argv)
    print(f"machine: {platform.processor() or platform.machine()}, torch threads: {torch.get_num_threads()}")
    width = max(len(r["benchmark"]) for r in table)
    for r in table:
        print(f"{r['benchmark']:<{width}}  {r['metric']:<18} {r['value']:10.3f} {r['unit']:<11} {r['note']}")
