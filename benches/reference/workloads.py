"""PyTorch reference implementations of the speed workloads (docs/PERFORMANCE.md).

The same computations as `sgm-benches`' `workloads` binary, written directly in PyTorch (and
torchdiffeq for w4/w4h), so that both run on the same machine in the same session:

    python3 benches/reference/workloads.py [w1 w2 w3 w4 w4h w5 w7] [--device cpu|cuda]

Prints one JSON line per workload with the same fields. Timing covers the steady state only:
build and one shortened warm-up run stay out of the figure, and CUDA is synchronised before the
clock stops.
"""

import argparse
import gzip
import json
import math
import pathlib
import time

import torch

B0, B1 = 0.1, 20.0


def log_mean_coeff(t):
    return -0.25 * t**2 * (B1 - B0) - 0.5 * t * B0


def beta(t):
    return B0 + t * (B1 - B0)


def ring8_means(device):
    k = torch.arange(8, device=device, dtype=torch.float32)
    angle = 2 * math.pi * k / 8
    return 4 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


def ring8_score(x, t, means):
    """Exact score of ring8 under VP at a scalar or per-sample time t (tensor ops only)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    m = torch.exp(log_mean_coeff(t)).reshape(-1, 1, 1)
    var = m**2 * 0.25 + 1 - m**2
    diff = x[:, None, :] - m * means[None]
    r = torch.softmax(-(diff**2).sum(-1, keepdim=True) / (2 * var), dim=1)
    return -(r * diff / var).sum(1)


def ring8_log_prob(x, means):
    diff = x[:, None, :] - means[None]
    comp = -(diff**2).sum(-1) / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    return torch.logsumexp(comp, dim=1) - math.log(8)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, f):
    sync(device)
    start = time.perf_counter()
    out = f()
    sync(device)
    return out, time.perf_counter() - start


def w1(device):
    means = ring8_means(device)
    n, snr, eps = 16384, 0.16, 1e-3

    def run(steps):
        grid = torch.linspace(1.0, eps, steps + 1).tolist()
        x = torch.randn(n, 2, device=device)
        x_mean = x
        for i in range(steps):
            t, dt = grid[i], grid[i] - grid[i + 1]
            beta_i = beta(t) * dt
            # Langevin corrector, SNR rule with batch-mean norms.
            g = ring8_score(x, t, means)
            z = torch.randn_like(x)
            e = 2 * (1 - beta_i) * (snr * z.norm(dim=1).mean() / g.norm(dim=1).mean()) ** 2
            x = x + e * g + torch.sqrt(2 * e) * z
            # Reverse-diffusion predictor with the DDPM kernel.
            s = ring8_score(x, t, means)
            x_mean = x - (math.sqrt(1 - beta_i) - 1) * x + beta_i * s
            x = x_mean + math.sqrt(beta_i) * torch.randn_like(x)
        return x_mean

    run(25)
    steps = 1000
    x, seconds = timed(device, lambda: run(steps))
    nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    shares = torch.bincount(nearest, minlength=8).float() / n
    return {
        "workload": "w1", "steps": steps, "particles": n, "seconds": seconds,
        "ns_per_particle_step": seconds * 1e9 / (n * steps),
        "mode_weight_max_abs_err": (shares - 0.125).abs().max().item(),
        "true_nll_of_samples": -ring8_log_prob(x, means).mean().item(),
    }


class Mlp(torch.nn.Module):
    """[x, sin(2 pi f t), cos(2 pi f t)], f ~ 16 N(0, 1) (8 frequencies), SiLU layers."""

    def __init__(self, dim, hidden, depth, fourier=8):
        super().__init__()
        self.register_buffer("freq", 16 * torch.randn(fourier))
        layers, width = [], dim + 2 * fourier if fourier else dim
        for _ in range(depth):
            layers += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
            width = hidden
        layers.append(torch.nn.Linear(width, dim))
        self.net = torch.nn.Sequential(*layers)
        self.fourier = fourier

    def forward(self, x, t=None):
        if self.fourier:
            a = 2 * math.pi * t.reshape(-1, 1) * self.freq[None]
            x = torch.cat([x, torch.sin(a), torch.cos(a)], dim=1)
        return self.net(x)


def std(t):
    return torch.sqrt(-torch.expm1(2 * log_mean_coeff(t)))


def w2(device):
    torch.manual_seed(2)
    net = Mlp(2, 256, 3).to(device)
    n, eps = 8192, 1e-3

    @torch.no_grad()
    def run(steps):
        grid = torch.linspace(1.0, eps, steps + 1).tolist()
        x = torch.randn(n, 2, device=device)
        for i in range(steps):
            t, dt = grid[i], grid[i] - grid[i + 1]
            tt = torch.full((n,), t, device=device)
            s = net(x, tt) / std(tt)[:, None]
            drift = -0.5 * beta(t) * x - beta(t) * s
            x = x - drift * dt + math.sqrt(beta(t) * dt) * torch.randn_like(x)
        return x

    run(5)
    steps = 500
    _, seconds = timed(device, lambda: run(steps))
    flops = 2 * (18 * 256 + 256 * 256 * 2 + 256 * 2) * n * steps
    return {"workload": "w2", "steps": steps, "particles": n, "seconds": seconds, "gflops": flops / seconds / 1e9}


def w3(device):
    means = ring8_means(device)

    def run(steps):
        torch.manual_seed(3)
        net = Mlp(2, 256, 3).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        losses = []
        for _ in range(steps):
            k = torch.randint(0, 8, (1024,), device=device)
            x0 = means[k] + 0.5 * torch.randn(1024, 2, device=device)
            t = torch.rand(1024, device=device) * (1 - 1e-5) + 1e-5
            z = torch.randn_like(x0)
            sd = std(t)[:, None]
            xt = torch.exp(log_mean_coeff(t))[:, None] * x0 + sd * z
            s = net(xt, t) / sd
            loss = ((sd * s + z) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return losses

    run(20)
    steps = 2000
    losses, seconds = timed(device, lambda: run(steps))
    return {
        "workload": "w3", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
        "final_loss_avg_last100": torch.stack(losses[-100:]).mean().item(),
    }


def w4(device, hutchinson):
    from torchdiffeq import odeint

    means = ring8_means(device)
    torch.manual_seed(4)
    k = torch.randint(0, 8, (1024,), device=device)
    x = means[k] + 0.5 * torch.randn(1024, 2, device=device)
    probe = (torch.randint(0, 2, x.shape, device=device).float() * 2 - 1) if hutchinson else None
    nfe = [0]

    def field(t, state):
        nfe[0] += 1
        y = state[0].detach().requires_grad_(True)
        with torch.enable_grad():
            s = ring8_score(y, t, means)
            f = -0.5 * beta(t) * y - 0.5 * beta(t) * s
            if probe is None:
                div = sum(torch.autograd.grad(f[:, i].sum(), y, retain_graph=True)[0][:, i] for i in range(2))
            else:
                p = probe[: y.shape[0]]
                div = (torch.autograd.grad((f * p).sum(), y)[0] * p).sum(1)
        return f.detach(), div.detach()

    def run(xs):
        nfe[0] = 0
        ts = torch.tensor([1e-5, 1.0], device=device)
        zs, divs = odeint(field, (xs, torch.zeros(xs.shape[0], device=device)), ts, rtol=1e-5, atol=1e-5, method="dopri5")
        prior = -0.5 * (zs[-1] ** 2).sum(1) - math.log(2 * math.pi)
        return prior + divs[-1]

    run(x[:64])
    logp, seconds = timed(device, lambda: run(x))
    exact = ring8_log_prob(x, means)
    return {
        "workload": "w4h" if hutchinson else "w4", "samples": 1024, "seconds": seconds, "nfe": nfe[0],
        "mean_logp": logp.mean().item(), "exact_mean_logp": exact.mean().item(),
        "mean_abs_err": (logp - exact).abs().mean().item(),
    }


def w5(device):
    from torch.func import functional_call, jvp

    d = 64
    torch.manual_seed(5)
    a = torch.randn(d, d, device=device) / 8

    def run(steps):
        net = Mlp(d, 512, 2, fourier=0).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        params = dict(net.named_parameters())
        for _ in range(steps):
            x = torch.randn(256, d, device=device) @ a
            v = torch.randn_like(x)
            s, jv = jvp(lambda inp: functional_call(net, params, (inp,)), (x,), (v,))
            loss = ((v * jv).sum(1) + 0.5 * (v * s).sum(1) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    run(5)
    steps = 200
    _, seconds = timed(device, lambda: run(steps))
    flops = 3 * 2 * 2 * (d * 512 + 512 * 512 + 512 * d) * 256 * steps
    return {"workload": "w5", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds, "gflops": flops / seconds / 1e9}


class ResBlock(torch.nn.Module):
    """GroupNorm, SiLU, 3x3 conv, + Linear(SiLU(temb)), GroupNorm, SiLU, 3x3 conv, + shortcut."""

    def __init__(self, c_in, c_out, time_dim, groups=8):
        super().__init__()
        self.norm1 = torch.nn.GroupNorm(groups, c_in)
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = torch.nn.Linear(time_dim, c_out)
        self.norm2 = torch.nn.GroupNorm(groups, c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = torch.nn.Conv2d(c_in, c_out, 1) if c_in != c_out else torch.nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(torch.nn.functional.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(torch.nn.functional.silu(self.norm2(h)))
        return self.shortcut(x) + h


class Attention(torch.nn.Module):
    """Single-head self-attention over positions, with a residual connection."""

    def __init__(self, c, groups=8):
        super().__init__()
        self.norm = torch.nn.GroupNorm(groups, c)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        seq = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        a = torch.softmax(self.q(seq) @ self.k(seq).transpose(1, 2) / math.sqrt(c), dim=2)
        out = self.o(a @ self.v(seq))
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNet(torch.nn.Module):
    """The reference U-Net of w7 (sgm_nn::UNetConfig's defaults): 616,065 parameters."""

    def __init__(self, widths=(32, 64), blocks=2, time_features=64, time_dim=128):
        super().__init__()
        self.time_features = time_features
        self.time_in = torch.nn.Linear(time_features, time_dim)
        self.time_out = torch.nn.Linear(time_dim, time_dim)
        self.conv_in = torch.nn.Conv2d(1, widths[0], 3, padding=1)
        self.down, self.downsample, skips, ch = torch.nn.ModuleList(), torch.nn.ModuleList(), [], widths[0]
        for level, width in enumerate(widths):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, width, time_dim))
                ch = width
                skips.append(ch)
            if level + 1 < len(widths):
                self.downsample.append(torch.nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.middle = Attention(ch)
        self.up, self.upsample = torch.nn.ModuleList(), torch.nn.ModuleList()
        for level in reversed(range(len(widths))):
            for _ in range(blocks):
                self.up.append(ResBlock(ch + skips.pop(), widths[level], time_dim))
                ch = widths[level]
            if level > 0:
                self.upsample.append(torch.nn.Conv2d(ch, ch, 3, padding=1))
        self.norm_out = torch.nn.GroupNorm(8, ch)
        self.conv_out = torch.nn.Conv2d(ch, 1, 3, padding=1)
        self.blocks = blocks

    def forward(self, x, t):
        half = self.time_features // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=x.device) / (half - 1))
        angles = 1000 * t[:, None] * freqs[None, :]
        feats = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
        temb = torch.nn.functional.silu(self.time_out(torch.nn.functional.silu(self.time_in(feats))))
        h, skips = self.conv_in(x.reshape(-1, 1, 8, 8)), []
        for i, block in enumerate(self.down):
            h = block(h, temb)
            skips.append(h)
            if (i + 1) % self.blocks == 0 and i // self.blocks < len(self.downsample):
                h = self.downsample[i // self.blocks](h)
        h = self.middle(h)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), temb)
            if (i + 1) % self.blocks == 0 and i // self.blocks < len(self.upsample):
                h = self.upsample[i // self.blocks](torch.nn.functional.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv_out(torch.nn.functional.silu(self.norm_out(h)))
        return h.reshape(x.shape[0], -1)


def digits_train(device):
    """The shipped 8x8 digits' train split (every index not a multiple of 5), scaled to [-1, 1]."""
    path = pathlib.Path(__file__).resolve().parents[2] / "crates/sgm-data/data/digits.csv.gz"
    rows = [line.split(",") for line in gzip.decompress(path.read_bytes()).decode().split()]
    rows = [[float(v) for v in row[:64]] for i, row in enumerate(rows) if i % 5 != 0]
    return torch.tensor(rows, device=device) / 8.0 - 1.0


def w7(device):
    data = digits_train(device)

    def run(steps):
        torch.manual_seed(7)
        net = UNet().to(device)
        opt = torch.optim.Adam(net.parameters(), lr=2e-4)
        losses = []
        for _ in range(steps):
            x0 = data[torch.randint(0, data.shape[0], (128,), device=device)]
            t = torch.rand(128, device=device) * (1 - 1e-5) + 1e-5
            z = torch.randn_like(x0)
            sd = std(t)[:, None]
            xt = torch.exp(log_mean_coeff(t))[:, None] * x0 + sd * z
            s = net(xt, t) / sd
            loss = ((sd * s + z) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return losses, sum(p.numel() for p in net.parameters())

    run(5)
    steps = 100
    (losses, params), seconds = timed(device, lambda: run(steps))
    return {
        "workload": "w7", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
        "params": params, "final_loss_avg_last50": torch.stack(losses[-50:]).mean().item(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workloads", nargs="*", default=["w1", "w2", "w3", "w4", "w4h", "w5", "w7"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    runners = {"w1": w1, "w2": w2, "w3": w3, "w4": lambda d: w4(d, False), "w4h": lambda d: w4(d, True), "w5": w5, "w7": w7}
    for name in args.workloads:
        line = runners[name](device)
        line["device"] = f"torch-{args.device}"
        line["threads"] = torch.get_num_threads()
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
