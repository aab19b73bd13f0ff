"""The sampler algorithms A1111 runs, written as coroutines that ask for one model evaluation at a time.

Each algorithm is a generator. It yields ``(x, level)`` when it needs the model at ``x``, and is sent back the
model's answer; its return value is the final latent. For the k-diffusion samplers ``level`` is a noise level
sigma and the answer is the denoised latent (CFG already applied); for A1111's timestep samplers (DDIM, PLMS,
UniPC) ``level`` is the UNet timestep and the answer is the predicted noise eps. This shape lets one algorithm
drive a diffusers pipeline's own denoising loop (see :mod:`.scheduler`) without a second implementation.

The maths follow k-diffusion 0.1.1 (crowsonkb, MIT; the sampling code A1111 pins) and A1111's own DDIM, PLMS,
UniPC and Restart samplers, operation for operation, so results agree to float rounding. They are written here
from those programs' described behaviour. ``ctx`` supplies the randomness: ``ctx.randn_like(x)`` is the next
draw of the per-image generators (A1111 routes every ``torch.randn_like`` of k-diffusion there) and
``ctx.noise(sigma, sigma_next)`` the step noise (Brownian-tree noise for the SDE samplers, else the same draw).
"""

from __future__ import annotations

import math
from typing import Any, Generator

import torch

Coroutine = Generator[tuple[torch.Tensor, Any], torch.Tensor, torch.Tensor]


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The Karras ODE derivative dx/dsigma."""
    return (x - denoised) / sigma


def ancestral_step(sigma_from: torch.Tensor, sigma_to: torch.Tensor, eta: float = 1.0):
    """(sigma_down, sigma_up): how far to step deterministically and how much fresh noise to add."""
    if not eta:
        return sigma_to, 0.0
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def _sigma_fn(t):
    return t.neg().exp()


def _t_fn(sigma):
    return sigma.log().neg()


# -- first-order and Heun-type --------------------------------------------------------------------------------

def _churn(x, sigmas, i, ctx, s_churn, s_tmin, s_tmax, s_noise):
    """Karras' "churn": raise the noise level from sigmas[i] to sigma_hat with fresh noise (x, sigma_hat)."""
    n = len(sigmas) - 1
    gamma = min(s_churn / n, 2 ** 0.5 - 1) if s_tmin <= sigmas[i] <= s_tmax else 0.0
    eps = ctx.randn_like(x) * s_noise  # k-diffusion 0.1.1 draws every step, churn or not
    sigma_hat = sigmas[i] * (gamma + 1)
    if gamma > 0:
        x = x + eps * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5
    return x, sigma_hat


def euler(x, sigmas, ctx, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas, i, ctx, s_churn, s_tmin, s_tmax, s_noise)
        denoised = yield x, sigma_hat
        x = x + to_d(x, sigma_hat, denoised) * (sigmas[i + 1] - sigma_hat)
    return x


def euler_ancestral(x, sigmas, ctx, eta=1.0, s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + ctx.noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def heun(x, sigmas, ctx, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas, i, ctx, s_churn, s_tmin, s_tmax, s_noise)
        denoised = yield x, sigma_hat
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = yield x_2, sigmas[i + 1]
            x = x + (d + to_d(x_2, sigmas[i + 1], denoised_2)) / 2 * dt
    return x


def dpm_2(x, sigmas, ctx, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churn(x, sigmas, i, ctx, s_churn, s_tmin, s_tmax, s_noise)
        denoised = yield x, sigma_hat
        d = to_d(x, sigma_hat, denoised)
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigma_hat)
        else:
            sigma_mid = sigma_hat.log().lerp(sigmas[i + 1].log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigma_hat)
            denoised_2 = yield x_2, sigma_mid
            x = x + to_d(x_2, sigma_mid, denoised_2) * (sigmas[i + 1] - sigma_hat)
    return x


def dpm_2_ancestral(x, sigmas, ctx, eta=1.0, s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            sigma_mid = sigmas[i].log().lerp(sigma_down.log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigmas[i])
            denoised_2 = yield x_2, sigma_mid
            x = x + to_d(x_2, sigma_mid, denoised_2) * (sigma_down - sigmas[i])
            x = x + ctx.noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def _lms_coefficient(order: int, t, i: int, j: int) -> float:
    """Integral over [t_i, t_i+1] of the Lagrange basis polynomial j through the last ``order`` sigmas."""
    from .schedules import require_scipy

    integrate = require_scipy("the LMS sampler").integrate

    def basis(tau: float) -> float:
        prod = 1.0
        for k in range(order):
            if k != j:
                prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod

    return integrate.quad(basis, t[i], t[i + 1], epsrel=1e-4)[0]


def lms(x, sigmas, ctx, order=4) -> Coroutine:
    sigmas_cpu = sigmas.detach().cpu().numpy()
    ds: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        ds.append(to_d(x, sigmas[i], denoised))
        if len(ds) > order:
            ds.pop(0)
        current = min(i + 1, order)
        coeffs = [_lms_coefficient(current, sigmas_cpu, i, j) for j in range(current)]
        x = x + sum(c * d for c, d in zip(coeffs, reversed(ds)))
    return x


# -- DPM-Solver(++) family ------------------------------------------------------------------------------------

def dpmpp_2s_ancestral(x, sigmas, ctx, eta=1.0, s_noise=1.0) -> Coroutine:
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        if sigma_down == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = _t_fn(sigmas[i]), _t_fn(sigma_down)
            h = t_next - t
            s = t + 0.5 * h
            x_2 = (_sigma_fn(s) / _sigma_fn(t)) * x - (-h * 0.5).expm1() * denoised
            denoised_2 = yield x_2, _sigma_fn(s)
            x = (_sigma_fn(t_next) / _sigma_fn(t)) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + ctx.noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def dpmpp_sde(x, sigmas, ctx, eta=1.0, s_noise=1.0, r=0.5) -> Coroutine:
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
        else:
            t, t_next = _t_fn(sigmas[i]), _t_fn(sigmas[i + 1])
            h = t_next - t
            s = t + h * r
            fac = 1 / (2 * r)
            sd, su = ancestral_step(_sigma_fn(t), _sigma_fn(s), eta)
            s_ = _t_fn(sd)
            x_2 = (_sigma_fn(s_) / _sigma_fn(t)) * x - (t - s_).expm1() * denoised
            x_2 = x_2 + ctx.noise(_sigma_fn(t), _sigma_fn(s)) * s_noise * su
            denoised_2 = yield x_2, _sigma_fn(s)
            sd, su = ancestral_step(_sigma_fn(t), _sigma_fn(t_next), eta)
            t_next_ = _t_fn(sd)
            denoised_d = (1 - fac) * denoised + fac * denoised_2
            x = (_sigma_fn(t_next_) / _sigma_fn(t)) * x - (t - t_next_).expm1() * denoised_d
            x = x + ctx.noise(_sigma_fn(t), _sigma_fn(t_next)) * s_noise * su
    return x


def dpmpp_2m(x, sigmas, ctx) -> Coroutine:
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        t, t_next = _t_fn(sigmas[i]), _t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (_sigma_fn(t_next) / _sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            r = (t - _t_fn(sigmas[i - 1])) / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (_sigma_fn(t_next) / _sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def dpmpp_2m_sde(x, sigmas, ctx, eta=1.0, s_noise=1.0, solver_type="midpoint") -> Coroutine:
    old_denoised = None
    h_last = None
    h = None
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -sigmas[i].log(), -sigmas[i + 1].log()
            h = s - t
            eta_h = eta * h
            x = sigmas[i + 1] / sigmas[i] * (-eta_h).exp() * x + (-h - eta_h).expm1().neg() * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == "heun":
                    x = x + ((-h - eta_h).expm1().neg() / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
                else:
                    x = x + 0.5 * (-h - eta_h).expm1().neg() * (1 / r) * (denoised - old_denoised)
            if eta:
                x = x + ctx.noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * \
                    (-2 * eta_h).expm1().neg().sqrt() * s_noise
        old_denoised = denoised
        h_last = h
    return x


def dpmpp_3m_sde(x, sigmas, ctx, eta=1.0, s_noise=1.0) -> Coroutine:
    denoised_1 = denoised_2 = None
    h = h_1 = h_2 = None
    for i in range(len(sigmas) - 1):
        denoised = yield x, sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -sigmas[i].log(), -sigmas[i + 1].log()
            h = s - t
            h_eta = h * (eta + 1)
            x = torch.exp(-h_eta) * x + (-h_eta).expm1().neg() * denoised
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                d = (denoised - denoised_1) / (h_1 / h)
                x = x + (h_eta.neg().expm1() / h_eta + 1) * d
            if eta:
                x = x + ctx.noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * \
                    (-2 * h * eta).expm1().neg().sqrt() * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


def dpm_fast(x, sigmas, ctx, sigma_min: float, sigma_max: float, n: int, eta=0.0, s_noise=1.0) -> Coroutine:
    """DPM-Solver-fast: ``n`` model evaluations on its own grid, uniform in log sigma from sigma_max to sigma_min.

    ``sigmas`` only scaled the starting noise; the integration grid is the solver's own.
    """
    t_start, t_end = _t_fn(torch.tensor(sigma_max)), _t_fn(torch.tensor(sigma_min))
    m = math.floor(n / 3) + 1
    ts = torch.linspace(t_start, t_end, m + 1)
    orders = [3] * (m - 2) + [2, 1] if n % 3 == 0 else [3] * (m - 1) + [n % 3]

    def eps_at(x_, t_):
        denoised = yield x_, _sigma_fn(t_)
        return (x_ - denoised) / _sigma_fn(t_)

    for i, order in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        if eta:
            sd, su = ancestral_step(_sigma_fn(t), _sigma_fn(t_next), eta)
            t_next_ = torch.minimum(t_end, _t_fn(sd))
            su = (_sigma_fn(t_next) ** 2 - _sigma_fn(t_next_) ** 2) ** 0.5
        else:
            t_next_, su = t_next, 0.0
        h = t_next_ - t
        eps = yield from eps_at(x, t)
        if order == 1:
            x = x - _sigma_fn(t_next_) * h.expm1() * eps
        elif order == 2:
            s1 = t + h / 2
            u1 = x - _sigma_fn(s1) * (h / 2).expm1() * eps
            eps_r1 = yield from eps_at(u1, s1)
            x = x - _sigma_fn(t_next_) * h.expm1() * eps - _sigma_fn(t_next_) / (2 * 0.5) * h.expm1() * (eps_r1 - eps)
        else:
            r1, r2 = 1 / 3, 2 / 3
            s1, s2 = t + r1 * h, t + r2 * h
            u1 = x - _sigma_fn(s1) * (r1 * h).expm1() * eps
            eps_r1 = yield from eps_at(u1, s1)
            u2 = x - _sigma_fn(s2) * (r2 * h).expm1() * eps - _sigma_fn(s2) * (r2 / r1) * \
                ((r2 * h).expm1() / (r2 * h) - 1) * (eps_r1 - eps)
            eps_r2 = yield from eps_at(u2, s2)
            x = x - _sigma_fn(t_next_) * h.expm1() * eps - _sigma_fn(t_next_) / r2 * (h.expm1() / h - 1) * \
                (eps_r2 - eps)
        x = x + su * s_noise * ctx.noise(_sigma_fn(t), _sigma_fn(t_next))
    return x


def restart(x, sigmas, ctx, s_noise=1.0) -> Coroutine:
    """A1111's Restart sampler (Xu et al. 2023): Heun steps with restart segments that re-noise and re-descend.

    From 20 steps on, A1111 rebuilds a shorter Karras schedule from the given sigmas' ends and adds 9 (or
    steps//4, twice, from 36 steps on) restart steps between sigma 0.1 and 2.
    """
    from .schedules import karras

    steps = sigmas.shape[0] - 1
    restart_list: dict[float, list] = {}
    if steps >= 20:
        restart_steps, restart_times = 9, 1
        if steps >= 36:
            restart_steps, restart_times = steps // 4, 2
        sigmas = karras(steps - restart_steps * restart_times, sigmas[-2].item(), sigmas[0].item())
        restart_list = {0.1: [restart_steps + 1, restart_times, 2]}
    by_index = {int(torch.argmin(abs(sigmas - key), dim=0)): value for key, value in restart_list.items()}
    step_list = []
    for i in range(len(sigmas) - 1):
        step_list.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in by_index:
            restart_steps, restart_times, restart_max = by_index[i + 1]
            min_idx = i + 1
            max_idx = int(torch.argmin(abs(sigmas - restart_max), dim=0))
            if max_idx < min_idx:
                segment = karras(restart_steps, sigmas[min_idx].item(), sigmas[max_idx].item())[:-1]
                for _ in range(restart_times):
                    step_list.extend(zip(segment[:-1], segment[1:]))
    last_sigma = None
    for old_sigma, new_sigma in step_list:
        if last_sigma is None:
            last_sigma = old_sigma
        elif last_sigma < old_sigma:
            x = x + ctx.randn_like(x) * s_noise * (old_sigma ** 2 - last_sigma ** 2) ** 0.5
        denoised = yield x, old_sigma
        d = to_d(x, old_sigma, denoised)
        dt = new_sigma - old_sigma
        if new_sigma == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = yield x_2, new_sigma
            x = x + (d + to_d(x_2, new_sigma, denoised_2)) / 2 * dt
        last_sigma = new_sigma
    return x


# -- A1111's timestep samplers (VP latents, the model's eps) ------------------------------------------------

def a1111_timesteps(steps: int) -> torch.Tensor:
    """A1111's DDIM/PLMS/UniPC grid: range(0, 1000, 1000 // steps) + 1, clipped to 0..999 (ascending)."""
    return torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)


def ddim(x, timesteps, ctx, alphas_cumprod, eta=0.0) -> Coroutine:
    """A1111's DDIM: from the noise at timesteps[-1] down to timesteps[0], one eval per grid point above it.

    With 20 steps that is 19 evaluations ending at t=1 (A1111 evaluates ``len(timesteps) - 1`` times).
    """
    alphas = alphas_cumprod[timesteps]
    alphas_prev = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    sqrt_one_minus = torch.sqrt(1 - alphas)
    a64 = alphas.to(torch.float64)
    sigmas = eta * torch.sqrt((1 - alphas_prev) / (1 - a64) * (1 - a64 / alphas_prev))
    one = x.new_ones(())
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = yield x, float(timesteps[index].item())
        a_t = alphas[index].item() * one
        a_prev = alphas_prev[index].item() * one
        sigma_t = sigmas[index].item() * one
        pred_x0 = (x - sqrt_one_minus[index].item() * one * e_t) / a_t.sqrt()
        dir_xt = (1.0 - a_prev - sigma_t ** 2).sqrt() * e_t
        noise = sigma_t * ctx.randn_like(x)
        x = a_prev.sqrt() * pred_x0 + dir_xt + noise
    return x


def plms(x, timesteps, ctx, alphas_cumprod) -> Coroutine:
    """A1111's PLMS: a pseudo improved-Euler first step, then Adams-Bashforth of order up to 4 on eps."""
    alphas = alphas_cumprod[timesteps]
    alphas_prev = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    sqrt_one_minus = torch.sqrt(1 - alphas)
    one = x.new_ones(())
    old_eps: list[torch.Tensor] = []

    def x_prev_from(x_, e_t, index):
        a_t = alphas[index].item() * one
        a_prev = alphas_prev[index].item() * one
        pred_x0 = (x_ - sqrt_one_minus[index].item() * one * e_t) / a_t.sqrt()
        return a_prev.sqrt() * pred_x0 + (1.0 - a_prev).sqrt() * e_t

    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        t_next = float(timesteps[max(index - 1, 0)].item())
        e_t = yield x, float(timesteps[index].item())
        if not old_eps:
            x_prev = x_prev_from(x, e_t, index)
            e_t_next = yield x_prev, t_next
            e_prime = (e_t + e_t_next) / 2
        elif len(old_eps) == 1:
            e_prime = (3 * e_t - old_eps[-1]) / 2
        elif len(old_eps) == 2:
            e_prime = (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
        else:
            e_prime = (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24
        x = x_prev_from(x, e_prime, index)
        old_eps.append(e_t)
        if len(old_eps) >= 4:
            old_eps.pop(0)
    return x


class _VPSchedule:
    """UniPC's continuous-time view of a discrete VP model: log alpha interpolated over t = (i + 1) / 1000."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        self.log_alpha = 0.5 * torch.log(alphas_cumprod)
        self.total = len(self.log_alpha)
        self.t_array = torch.linspace(0.0, 1.0, self.total + 1)[1:].to(alphas_cumprod.device)

    def log_mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        return _interp(t, self.t_array, self.log_alpha)

    def alpha(self, t):
        return torch.exp(self.log_mean_coeff(t))

    def std(self, t):
        return torch.sqrt(1.0 - torch.exp(2.0 * self.log_mean_coeff(t)))

    def lam(self, t):
        lmc = self.log_mean_coeff(t)
        return lmc - 0.5 * torch.log(1.0 - torch.exp(2.0 * lmc))

    def inverse_lam(self, lam: torch.Tensor) -> torch.Tensor:
        """The time of a half-logSNR (log alpha is interpolated back to t)."""
        log_alpha = -0.5 * torch.logaddexp(torch.zeros_like(lam), -2.0 * lam)
        return _interp(log_alpha, self.log_alpha.flip(0), self.t_array.flip(0))


def _interp(x: torch.Tensor, xp: torch.Tensor, yp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear y(x) through (xp, yp), ascending xp, extended linearly past both ends."""
    if xp[0] > xp[-1]:
        xp, yp = xp.flip(0), yp.flip(0)
    x = torch.as_tensor(x, dtype=xp.dtype, device=xp.device).reshape(-1)
    idx = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, y0, y1 = xp[idx - 1], xp[idx], yp[idx - 1], yp[idx]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


def unipc_grid(ns: _VPSchedule, steps: int, skip_type: str = "time_uniform") -> torch.Tensor:
    """UniPC's times from t=1 to t=1/1000: uniform in t (A1111's default), in t**0.5 squared, or in logSNR."""
    t_end, t_start = 1.0 / ns.total, 1.0
    if skip_type == "time_uniform":
        return torch.linspace(t_start, t_end, steps + 1).to(ns.t_array.device)
    if skip_type == "time_quadratic":
        return torch.linspace(t_start ** 0.5, t_end ** 0.5, steps + 1).pow(2).to(ns.t_array.device)
    if skip_type == "logSNR":
        ends = ns.lam(torch.tensor([t_start, t_end], device=ns.t_array.device))
        return ns.inverse_lam(torch.linspace(ends[0].item(), ends[1].item(), steps + 1).to(ns.t_array.device))
    raise ValueError(f"unknown UniPC skip type {skip_type!r}; A1111 has time_uniform, time_quadratic and logSNR")


def unipc(x, steps, ctx, alphas_cumprod, order=3, variant="bh1", lower_order_final=True,
          skip_type="time_uniform") -> Coroutine:
    """A1111's UniPC (Zhao et al. 2023): multistep predictor-corrector on x0 from t=1 to 1/1000.

    ``steps`` is the length of A1111's timestep grid; the UNet gets ``(t - 1/1000) * 1000``. One evaluation per
    step: the corrector's evaluation at the predicted point is reused as the next step's model value. A1111's
    defaults (its UniPC settings, not written into infotexts): order 3, variant bh1, time-uniform, lower order
    at the end.
    """
    if steps < order:
        raise ValueError(f"UniPC order {order} needs at least {order} steps")
    ns = _VPSchedule(alphas_cumprod.to(x.device))
    grid = unipc_grid(ns, steps, skip_type)
    device = x.device

    def model_x0(x_, t_):
        eps = yield x_, float(((t_ - 1.0 / ns.total) * 1000.0).item())
        return (x_ - ns.std(t_) * eps) / ns.alpha(t_)

    def update(x_, model_prev, t_prev, t_, step_order, use_corrector):
        lam_prev_0, lam_t = ns.lam(t_prev[-1]), ns.lam(t_)
        m0 = model_prev[-1]
        sigma_prev_0, sigma_t = ns.std(t_prev[-1]), ns.std(t_)
        alpha_t = ns.alpha(t_)
        h = lam_t - lam_prev_0
        rks, d1s = [], []
        for i in range(1, step_order):
            rk = ((ns.lam(t_prev[-(i + 1)]) - lam_prev_0) / h)[0]
            rks.append(rk)
            d1s.append((model_prev[-(i + 1)] - m0) / rk)
        rks.append(1.0)
        rks = torch.tensor([float(r) for r in rks], device=device, dtype=x.dtype)
        hh = -h[0]
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        factorial = 1
        b_h = hh if variant == "bh1" else torch.expm1(hh)
        rows, b = [], []
        for i in range(1, step_order + 1):
            rows.append(torch.pow(rks, i - 1))
            b.append(h_phi_k * factorial / b_h)
            factorial *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial
        r_mat = torch.stack(rows)
        b = torch.tensor([float(v) for v in b], device=device, dtype=x.dtype)
        stacked = torch.stack(d1s, dim=1) if d1s else None
        half = torch.tensor([0.5], device=device, dtype=x.dtype)
        if stacked is not None:
            rhos_p = half if step_order == 2 else torch.linalg.solve(r_mat[:-1, :-1], b[:-1])
        rhos_c = (half if step_order == 1 else torch.linalg.solve(r_mat, b)) if use_corrector else None
        x_base = (sigma_t / sigma_prev_0) * x_ - (alpha_t * h_phi_1) * m0
        pred_res = torch.einsum("k,bkchw->bchw", rhos_p, stacked) if stacked is not None else 0
        x_t = x_base - (alpha_t * b_h) * pred_res
        model_t = None
        if use_corrector:
            model_t = yield from model_x0(x_t, t_)
            corr_res = torch.einsum("k,bkchw->bchw", rhos_c[:-1], stacked) if stacked is not None else 0
            x_t = x_base - (alpha_t * b_h) * (corr_res + rhos_c[-1] * (model_t - m0))
        return x_t, model_t

    t = grid[0].reshape(1)
    model_prev = [(yield from model_x0(x, t))]
    t_prev = [t]
    for init_order in range(1, order):
        t = grid[init_order].reshape(1)
        x, model_x = yield from update(x, model_prev, t_prev, t, init_order, True)
        if model_x is None:
            model_x = yield from model_x0(x, t)
        model_prev.append(model_x)
        t_prev.append(t)
    for step in range(order, steps + 1):
        t = grid[step].reshape(1)
        step_order = min(order, steps + 1 - step) if lower_order_final else order
        x, model_x = yield from update(x, model_prev, t_prev, t, step_order, step != steps)
        t_prev = t_prev[1:] + [t]
        model_prev = model_prev[1:] + [model_prev[-1]]
        if step < steps:
            if model_x is None:
                model_x = yield from model_x0(x, t)
            model_prev[-1] = model_x
    return x
