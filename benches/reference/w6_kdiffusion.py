"""k-diffusion's samplers on workload w6 (accuracy per NFE, ../shared/BENCHMARKS.md).

The peer figures of docs/PERFORMANCE.md's w6 table: k-diffusion's own sampler code on the Karras
et al. (2022) problem with the exact denoiser of ring8_weighted, on get_sigmas_karras(n, 0.002, 80,
rho=7), against a reference solution of the probability-flow ODE (scipy's Dormand-Prince at
rtol = atol = 1e-10, then one exact denoising at sigma = 0.002).

    pip install torch scipy torchdiffeq torchsde tqdm
    pip install --no-deps k-diffusion==0.1.1.post1
    python3 benches/reference/w6_kdiffusion.py [--samples 16384] [--seed 0] [--write-prior FILE]

Prints one JSON line per (sampler, budget) with the fields of sgm's `workloads w6`. Only
k_diffusion/sampling.py is loaded (the package's __init__ pulls in training dependencies), with
the one helper it takes from k_diffusion.utils.
"""

import argparse
import importlib.util
import json
import math
import sys
import time
import types

import numpy as np
import torch
from scipy.integrate import solve_ivp

SIGMA_MIN, SIGMA_MAX, S = 0.002, 80.0, 0.5
BUDGETS = [10, 20, 35, 50, 100, 200]
WEIGHTS = np.array([(k + 1) / 36 for k in range(8)])
MEANS = np.array([[4 * math.cos(2 * math.pi * k / 8), 4 * math.sin(2 * math.pi * k / 8)] for k in range(8)])


def load_sampling():
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None:
        sys.exit("k-diffusion is not installed: pip install --no-deps k-diffusion==0.1.1.post1")
    root = spec.submodule_search_locations[0]
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = [root]
    utils = types.ModuleType("k_diffusion.utils")
    utils.append_dims = lambda x, n: x[(...,) + (None,) * (n - x.ndim)]
    pkg.utils = utils
    sys.modules["k_diffusion"] = pkg
    sys.modules["k_diffusion.utils"] = utils
    sampling_spec = importlib.util.spec_from_file_location("k_diffusion.sampling", f"{root}/sampling.py")
    sampling = importlib.util.module_from_spec(sampling_spec)
    sys.modules["k_diffusion.sampling"] = sampling
    sampling_spec.loader.exec_module(sampling)
    return sampling


def denoise_np(x, sigma):
    """D(x, sigma) = m + c (x - m), c = s^2 / (s^2 + sigma^2), m the responsibility-weighted mean."""
    var = S * S + sigma * sigma
    logits = np.log(WEIGHTS)[None] - ((x[:, None, :] - MEANS[None]) ** 2).sum(-1) / (2 * var)
    logits -= logits.max(1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(1, keepdims=True)
    m = r @ MEANS
    return m + (S * S / var) * (x - m)


class Denoiser(torch.nn.Module):
    """The exact denoiser as a k-diffusion model: model(x, sigma) -> D, counting its calls."""

    def __init__(self):
        super().__init__()
        self.means = torch.tensor(MEANS, dtype=torch.float64)
        self.log_w = torch.tensor(np.log(WEIGHTS), dtype=torch.float64)
        self.calls = 0

    def forward(self, x, sigma):
        self.calls += 1
        var = (S * S + sigma * sigma)[:, None]
        logits = self.log_w[None] - ((x[:, None, :] - self.means[None]) ** 2).sum(-1) / (2 * var)
        r = torch.softmax(logits, dim=1)
        m = r @ self.means
        return m + (S * S / var) * (x - m)


def reference(x_prior, rtol):
    """The probability-flow ODE dx/dsigma = (x - D) / sigma from 80 to 0.002, then D(x, 0.002)."""
    shape = x_prior.shape

    def f(sigma, flat):
        x = flat.reshape(shape)
        return ((x - denoise_np(x, sigma)) / sigma).ravel()

    sol = solve_ivp(f, (SIGMA_MAX, SIGMA_MIN), x_prior.ravel(), method="RK45", rtol=rtol, atol=rtol)
    x = sol.y[:, -1].reshape(shape)
    return denoise_np(x, SIGMA_MIN), sol.nfev


def metrics(x, x_ref):
    rms = float(np.sqrt(((x - x_ref) ** 2).sum(1).mean()))
    nearest = ((x[:, None, :] - MEANS[None]) ** 2).sum(-1).argmin(1)
    shares = np.bincount(nearest, minlength=8) / len(x)
    return rms, float(np.abs(shares - WEIGHTS).max())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=0, help="of the prior draws (the table: 0)")
    parser.add_argument("--write-prior", help="also write the prior draws here (x,y per line), "
                        "for `workloads w6 --w6-prior FILE`: both on the same draws")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(args.seed)
    sampling = load_sampling()
    x_prior = torch.randn(args.samples, 2, dtype=torch.float64) * SIGMA_MAX
    if args.write_prior:
        np.savetxt(args.write_prior, x_prior.numpy(), delimiter=",", fmt="%.17e")
    start = time.perf_counter()
    x_ref, ref_nfe = reference(x_prior.numpy(), 1e-10)
    ref_seconds = time.perf_counter() - start
    check, _ = reference(x_prior.numpy()[:1024], 1e-12)
    print(json.dumps({"workload": "w6", "impl": "k-diffusion", "reference_nfe": ref_nfe,
                      "reference_seconds": ref_seconds,
                      "reference_check_max_abs_diff": float(np.abs(check - x_ref[:1024]).max())}))
    # (name, function, NFE of n sigmas before the appended zero)
    samplers = [
        ("euler", sampling.sample_euler, lambda n: n),
        ("heun", sampling.sample_heun, lambda n: 2 * n - 1),
        ("dpm_2", sampling.sample_dpm_2, lambda n: 2 * n - 1),
        ("lms", sampling.sample_lms, lambda n: n),
        ("dpmpp_2m", sampling.sample_dpmpp_2m, lambda n: n),
        ("dpmpp_3m_sde(eta=0)", lambda m, x, s, disable: sampling.sample_dpmpp_3m_sde(m, x, s, disable=disable, eta=0.0), lambda n: n),
    ]
    for budget in BUDGETS:
        for name, fn, nfe_of in samplers:
            n = max(k for k in range(2, budget + 2) if nfe_of(k) <= budget)
            model = Denoiser()
            sigmas = sampling.get_sigmas_karras(n, SIGMA_MIN, SIGMA_MAX, rho=7.0).double()
            start = time.perf_counter()
            with torch.no_grad():
                x = fn(model, x_prior.clone(), sigmas, disable=True)
            seconds = time.perf_counter() - start
            rms, mode = metrics(x.numpy(), x_ref)
            print(json.dumps({"workload": "w6", "impl": "k-diffusion", "sampler": name, "budget": budget,
                              "nfe": model.calls, "steps": n, "rms_err": rms, "mode_err": mode,
                              "seconds": seconds}))
        model = Denoiser()
        start = time.perf_counter()
        with torch.no_grad():
            x = sampling.sample_dpm_fast(model, x_prior.clone(), SIGMA_MIN, SIGMA_MAX, budget, disable=True)
        seconds = time.perf_counter() - start
        rms, mode = metrics(x.numpy(), x_ref)
        print(json.dumps({"workload": "w6", "impl": "k-diffusion", "sampler": "dpm_fast", "budget": budget,
                          "nfe": model.calls, "steps": budget, "rms_err": rms, "mode_err": mode,
                          "seconds": seconds}))


if __name__ == "__main__":
    main()
