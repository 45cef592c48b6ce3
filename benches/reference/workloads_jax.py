"""JAX reference implementations of the speed workloads (docs/PERFORMANCE.md).

The same computations as `benches/reference/workloads.py` (PyTorch) and `sgm-benches`'
`workloads` binary, written in JAX with one `jax.jit` per step (so XLA fuses each step's
element-wise work), diffrax for w4/w4h and optax for the optimisers:

    pip install "jax[cpu]" optax diffrax
    python3 benches/reference/workloads_jax.py [w1 w2 w3 w4 w4h w5 w7]

Prints one JSON line per workload with the same fields. Timing covers the steady state only:
every jitted function is compiled and run once before the clock starts, and the clock stops
after `block_until_ready`.
"""

import argparse
import gzip
import json
import math
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

B0, B1 = 0.1, 20.0
K = 8
ANGLES = 2 * np.pi * np.arange(K) / K
MEANS = jnp.asarray(4 * np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1), dtype=jnp.float32)


def log_mean_coeff(t):
    return -0.25 * t**2 * (B1 - B0) - 0.5 * t * B0


def beta(t):
    return B0 + t * (B1 - B0)


def std(t):
    return jnp.sqrt(-jnp.expm1(2 * log_mean_coeff(t)))


def ring8_score(x, t):
    """Exact score of ring8 under VP at a scalar or per-sample time t."""
    m = jnp.exp(log_mean_coeff(jnp.asarray(t, x.dtype))).reshape(-1, 1, 1)
    var = m**2 * 0.25 + 1 - m**2
    diff = x[:, None, :] - m * MEANS[None]
    r = jax.nn.softmax(-(diff**2).sum(-1, keepdims=True) / (2 * var), axis=1)
    return -(r * diff / var).sum(1)


def ring8_log_prob(x):
    diff = x[:, None, :] - MEANS[None]
    comp = -(diff**2).sum(-1) / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    return jax.scipy.special.logsumexp(comp, axis=1) - math.log(K)


def timed(f):
    start = time.perf_counter()
    out = jax.block_until_ready(f())
    return out, time.perf_counter() - start


def w1():
    n, snr, eps = 16384, 0.16, 1e-3

    @jax.jit
    def step(x, t, dt, key):
        k1, k2 = jax.random.split(key)
        beta_i = beta(t) * dt
        g = ring8_score(x, t)
        z = jax.random.normal(k1, x.shape)
        norm = lambda a: jnp.sqrt((a**2).sum(1)).mean()
        e = 2 * (1 - beta_i) * (snr * norm(z) / norm(g)) ** 2
        x = x + e * g + jnp.sqrt(2 * e) * z
        s = ring8_score(x, t)
        x_mean = x - (jnp.sqrt(1 - beta_i) - 1) * x + beta_i * s
        return x_mean + jnp.sqrt(beta_i) * jax.random.normal(k2, x.shape), x_mean

    def run(steps, key):
        grid = np.linspace(1.0, eps, steps + 1, dtype=np.float32)
        key, sub = jax.random.split(key)
        x = jax.random.normal(sub, (n, 2))
        x_mean = x
        for i in range(steps):
            key, sub = jax.random.split(key)
            x, x_mean = step(x, grid[i], grid[i] - grid[i + 1], sub)
        return x_mean

    run(25, jax.random.PRNGKey(0))
    steps = 1000
    x, seconds = timed(lambda: run(steps, jax.random.PRNGKey(1)))
    nearest = ((x[:, None, :] - MEANS[None]) ** 2).sum(-1).argmin(1)
    shares = jnp.bincount(nearest, length=K) / n
    return {
        "workload": "w1", "steps": steps, "particles": n, "seconds": seconds,
        "ns_per_particle_step": seconds * 1e9 / (n * steps),
        "mode_weight_max_abs_err": float(jnp.abs(shares - 0.125).max()),
        "true_nll_of_samples": float(-ring8_log_prob(x).mean()),
    }


def mlp_init(key, dim, hidden, depth, fourier=8):
    """torch.nn.Linear's initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); 16 N(0, 1) frequencies."""
    keys = jax.random.split(key, depth + 2)
    params, width = {"layers": []}, dim + 2 * fourier if fourier else dim
    for i, out in enumerate([hidden] * depth + [dim]):
        kw, kb = jax.random.split(keys[i])
        bound = 1 / math.sqrt(width)
        params["layers"].append((
            jax.random.uniform(kw, (width, out), minval=-bound, maxval=bound),
            jax.random.uniform(kb, (out,), minval=-bound, maxval=bound),
        ))
        width = out
    if fourier:
        params["freq"] = 16 * jax.random.normal(keys[-1], (fourier,))
    return params


def mlp(params, x, t=None):
    if "freq" in params:
        a = 2 * math.pi * t.reshape(-1, 1) * params["freq"][None]
        x = jnp.concatenate([x, jnp.sin(a), jnp.cos(a)], axis=1)
    *hidden, (w, b) = params["layers"]
    for wh, bh in hidden:
        x = jax.nn.silu(x @ wh + bh)
    return x @ w + b


def w2():
    params = mlp_init(jax.random.PRNGKey(2), 2, 256, 3)
    n, eps = 8192, 1e-3

    @jax.jit
    def step(x, t, dt, key):
        tt = jnp.full((n,), t)
        s = mlp(params, x, tt) / std(tt)[:, None]
        drift = -0.5 * beta(t) * x - beta(t) * s
        return x - drift * dt + jnp.sqrt(beta(t) * dt) * jax.random.normal(key, x.shape)

    def run(steps, key):
        grid = np.linspace(1.0, eps, steps + 1, dtype=np.float32)
        key, sub = jax.random.split(key)
        x = jax.random.normal(sub, (n, 2))
        for i in range(steps):
            key, sub = jax.random.split(key)
            x = step(x, grid[i], grid[i] - grid[i + 1], sub)
        return x

    run(5, jax.random.PRNGKey(0))
    steps = 500
    _, seconds = timed(lambda: run(steps, jax.random.PRNGKey(1)))
    flops = 2 * (18 * 256 + 256 * 256 * 2 + 256 * 2) * n * steps
    return {"workload": "w2", "steps": steps, "particles": n, "seconds": seconds, "gflops": flops / seconds / 1e9}


def dsm_loss(net, x0, t, z):
    sd = std(t)[:, None]
    xt = jnp.exp(log_mean_coeff(t))[:, None] * x0 + sd * z
    s = net(xt, t) / sd
    return ((sd * s + z) ** 2).sum(1).mean()


def adam_trainer(net, lr, sample):
    """A jitted Adam step on the DSM loss of `net(params, x, t)` with batches from `sample(key)`."""
    opt = optax.adam(lr)

    @jax.jit
    def step(params, state, key):
        k1, k2, k3 = jax.random.split(key, 3)
        x0 = sample(k1)
        t = jax.random.uniform(k2, (x0.shape[0],)) * (1 - 1e-5) + 1e-5
        z = jax.random.normal(k3, x0.shape)
        loss, grads = jax.value_and_grad(lambda p: dsm_loss(lambda x, t: net(p, x, t), x0, t, z))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    def run(params, steps, key):
        state, losses = opt.init(params), []
        for _ in range(steps):
            key, sub = jax.random.split(key)
            params, state, loss = step(params, state, sub)
            losses.append(loss)
        return params, jnp.stack(losses)

    return run


def w3():
    def sample(key):
        k1, k2 = jax.random.split(key)
        k = jax.random.randint(k1, (1024,), 0, K)
        return MEANS[k] + 0.5 * jax.random.normal(k2, (1024, 2))

    run = adam_trainer(mlp, 1e-3, sample)
    params = mlp_init(jax.random.PRNGKey(3), 2, 256, 3)
    run(params, 20, jax.random.PRNGKey(0))
    steps = 2000
    (_, losses), seconds = timed(lambda: run(params, steps, jax.random.PRNGKey(1)))
    return {
        "workload": "w3", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
        "final_loss_avg_last100": float(losses[-100:].mean()),
    }


def w4(hutchinson):
    import diffrax

    key = jax.random.PRNGKey(4)
    k1, k2, k3 = jax.random.split(key, 3)
    x = MEANS[jax.random.randint(k1, (1024,), 0, K)] + 0.5 * jax.random.normal(k2, (1024, 2))
    probe = jax.random.rademacher(k3, x.shape).astype(jnp.float32)

    def field(t, y):
        return -0.5 * beta(t) * y - 0.5 * beta(t) * ring8_score(y, t)

    def vector_field(t, state, args):
        y, _ = state
        if hutchinson:
            f, jv = jax.jvp(lambda y: field(t, y), (y,), (probe[: y.shape[0]],))
            div = (jv * probe[: y.shape[0]]).sum(1)
        else:
            f = field(t, y)
            jac = jax.vmap(jax.jacfwd(lambda yi: field(t, yi[None])[0]))(y)
            div = jnp.trace(jac, axis1=1, axis2=2)
        return f, div

    @jax.jit
    def run(xs):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field), diffrax.Dopri5(), t0=1e-5, t1=1.0, dt0=None,
            y0=(xs, jnp.zeros(xs.shape[0])),
            stepsize_controller=diffrax.PIDController(rtol=1e-5, atol=1e-5, dtmin=None),
            max_steps=100_000,
        )
        z, div = sol.ys[0][-1], sol.ys[1][-1]
        prior = -0.5 * (z**2).sum(1) - math.log(2 * math.pi)
        return prior + div, sol.stats["num_steps"]

    run(x)
    (logp, steps), seconds = timed(lambda: run(x))
    exact = ring8_log_prob(x)
    return {
        "workload": "w4h" if hutchinson else "w4", "samples": 1024, "seconds": seconds,
        # Dormand-Prince with FSAL: 6 new evaluations per step (accepted or rejected), plus one.
        "nfe": 6 * int(steps) + 1,
        "mean_logp": float(logp.mean()), "exact_mean_logp": float(exact.mean()),
        "mean_abs_err": float(jnp.abs(logp - exact).mean()),
    }


def w5():
    d = 64
    a = jax.random.normal(jax.random.PRNGKey(5), (d, d)) / 8
    opt = optax.sgd(1e-3)

    def loss_fn(params, x, v):
        s, jv = jax.jvp(lambda inp: mlp(params, inp), (x,), (v,))
        return ((v * jv).sum(1) + 0.5 * (v * s).sum(1) ** 2).mean()

    @jax.jit
    def step(params, state, key):
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (256, d)) @ a
        v = jax.random.normal(k2, x.shape)
        grads = jax.grad(loss_fn)(params, x, v)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def run(steps, key):
        params = mlp_init(jax.random.PRNGKey(6), d, 512, 2, fourier=0)
        state = opt.init(params)
        for _ in range(steps):
            key, sub = jax.random.split(key)
            params, state = step(params, state, sub)
        return params

    run(5, jax.random.PRNGKey(0))
    steps = 200
    _, seconds = timed(lambda: run(steps, jax.random.PRNGKey(1)))
    flops = 3 * 2 * 2 * (d * 512 + 512 * 512 + 512 * d) * 256 * steps
    return {"workload": "w5", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds, "gflops": flops / seconds / 1e9}


# The reference U-Net of w7 (sgm_nn::UNetConfig's defaults, 616,065 parameters), NCHW.


def linear_init(key, fan_in, fan_out):
    kw, kb = jax.random.split(key)
    bound = 1 / math.sqrt(fan_in)
    return {"w": jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
            "b": jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound)}


def conv_init(key, c_in, c_out, size):
    kw, kb = jax.random.split(key)
    bound = 1 / math.sqrt(c_in * size * size)
    return {"w": jax.random.uniform(kw, (c_out, c_in, size, size), minval=-bound, maxval=bound),
            "b": jax.random.uniform(kb, (c_out,), minval=-bound, maxval=bound)}


def norm_init(c):
    return {"g": jnp.ones(c), "b": jnp.zeros(c)}


def conv(p, x, stride=1):
    pad = p["w"].shape[-1] // 2
    y = jax.lax.conv_general_dilated(x, p["w"], (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + p["b"][None, :, None, None]


def group_norm(p, x, groups=8, eps=1e-5):
    b, c, h, w = x.shape
    g = x.reshape(b, groups, -1)
    mean, var = g.mean(-1, keepdims=True), g.var(-1, keepdims=True)
    x = ((g - mean) / jnp.sqrt(var + eps)).reshape(b, c, h, w)
    return x * p["g"][None, :, None, None] + p["b"][None, :, None, None]


def resblock_init(key, c_in, c_out, time_dim):
    keys = jax.random.split(key, 4)
    p = {"norm1": norm_init(c_in), "conv1": conv_init(keys[0], c_in, c_out, 3),
         "time": linear_init(keys[1], time_dim, c_out), "norm2": norm_init(c_out),
         "conv2": conv_init(keys[2], c_out, c_out, 3)}
    if c_in != c_out:
        p["shortcut"] = conv_init(keys[3], c_in, c_out, 1)
    return p


def resblock(p, x, temb):
    h = conv(p["conv1"], jax.nn.silu(group_norm(p["norm1"], x)))
    h = h + (temb @ p["time"]["w"] + p["time"]["b"])[:, :, None, None]
    h = conv(p["conv2"], jax.nn.silu(group_norm(p["norm2"], h)))
    return (conv(p["shortcut"], x) if "shortcut" in p else x) + h


def attention_init(key, c):
    keys = jax.random.split(key, 4)
    return {"norm": norm_init(c), **{name: linear_init(k, c, c) for name, k in zip("qkvo", keys)}}


def attention(p, x):
    b, c, h, w = x.shape
    seq = group_norm(p["norm"], x).reshape(b, c, h * w).transpose(0, 2, 1)
    lin = lambda name, s: s @ p[name]["w"] + p[name]["b"]
    a = jax.nn.softmax(lin("q", seq) @ lin("k", seq).transpose(0, 2, 1) / math.sqrt(c), axis=2)
    out = lin("o", a @ lin("v", seq))
    return x + out.transpose(0, 2, 1).reshape(b, c, h, w)


WIDTHS, BLOCKS, TIME_FEATURES, TIME_DIM = (32, 64), 2, 64, 128


def unet_init(key):
    keys = iter(jax.random.split(key, 64))
    p = {"time_in": linear_init(next(keys), TIME_FEATURES, TIME_DIM),
         "time_out": linear_init(next(keys), TIME_DIM, TIME_DIM),
         "conv_in": conv_init(next(keys), 1, WIDTHS[0], 3), "down": [], "downsample": [],
         "up": [], "upsample": []}
    skips, ch = [], WIDTHS[0]
    for level, width in enumerate(WIDTHS):
        for _ in range(BLOCKS):
            p["down"].append(resblock_init(next(keys), ch, width, TIME_DIM))
            ch = width
            skips.append(ch)
        if level + 1 < len(WIDTHS):
            p["downsample"].append(conv_init(next(keys), ch, ch, 3))
    p["middle"] = attention_init(next(keys), ch)
    for level in reversed(range(len(WIDTHS))):
        for _ in range(BLOCKS):
            p["up"].append(resblock_init(next(keys), ch + skips.pop(), WIDTHS[level], TIME_DIM))
            ch = WIDTHS[level]
        if level > 0:
            p["upsample"].append(conv_init(next(keys), ch, ch, 3))
    p["norm_out"] = norm_init(ch)
    p["conv_out"] = conv_init(next(keys), ch, 1, 3)
    return p


def unet(p, x, t):
    half = TIME_FEATURES // 2
    freqs = jnp.exp(-math.log(10000) * jnp.arange(half) / (half - 1))
    angles = 1000 * t[:, None] * freqs[None, :]
    feats = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=1)
    lin = lambda q, a: a @ q["w"] + q["b"]
    temb = jax.nn.silu(lin(p["time_out"], jax.nn.silu(lin(p["time_in"], feats))))
    h, skips = conv(p["conv_in"], x.reshape(-1, 1, 8, 8)), []
    for i, block in enumerate(p["down"]):
        h = resblock(block, h, temb)
        skips.append(h)
        if (i + 1) % BLOCKS == 0 and i // BLOCKS < len(p["downsample"]):
            h = conv(p["downsample"][i // BLOCKS], h, stride=2)
    h = attention(p["middle"], h)
    for i, block in enumerate(p["up"]):
        h = resblock(block, jnp.concatenate([h, skips.pop()], axis=1), temb)
        if (i + 1) % BLOCKS == 0 and i // BLOCKS < len(p["upsample"]):
            h = conv(p["upsample"][i // BLOCKS], jnp.repeat(jnp.repeat(h, 2, axis=2), 2, axis=3))
    h = conv(p["conv_out"], jax.nn.silu(group_norm(p["norm_out"], h)))
    return h.reshape(x.shape[0], -1)


def digits_train():
    """The shipped 8x8 digits' train split (every index not a multiple of 5), scaled to [-1, 1]."""
    path = pathlib.Path(__file__).resolve().parents[2] / "crates/sgm-data/data/digits.csv.gz"
    rows = [line.split(",") for line in gzip.decompress(path.read_bytes()).decode().split()]
    rows = [[float(v) for v in row[:64]] for i, row in enumerate(rows) if i % 5 != 0]
    return jnp.asarray(rows, dtype=jnp.float32) / 8.0 - 1.0


def w7():
    data = digits_train()
    run = adam_trainer(unet, 2e-4, lambda key: data[jax.random.randint(key, (128,), 0, data.shape[0])])
    params = unet_init(jax.random.PRNGKey(7))
    run(params, 5, jax.random.PRNGKey(0))
    steps = 100
    (_, losses), seconds = timed(lambda: run(params, steps, jax.random.PRNGKey(1)))
    return {
        "workload": "w7", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
        "params": sum(leaf.size for leaf in jax.tree_util.tree_leaves(params)),
        "final_loss_avg_last50": float(losses[-50:].mean()),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workloads", nargs="*", default=["w1", "w2", "w3", "w4", "w4h", "w5", "w7"])
    args = parser.parse_args()
    runners = {"w1": w1, "w2": w2, "w3": w3, "w4": lambda: w4(False), "w4h": lambda: w4(True), "w5": w5, "w7": w7}
    for name in args.workloads:
        line = runners[name]()
        line["device"] = f"jax-{jax.default_backend()}"
        line["threads"] = os.cpu_count()
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
