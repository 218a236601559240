"""Privacy accounting for DP-SGD with Google's ``dp-accounting``.

DP-SGD run for ``steps`` steps is described as one ``DpEvent``: a Gaussian mechanism with
noise multiplier ``sigma`` (noise std ``sigma * C`` on a sum of gradients clipped to ``C``),
Poisson-subsampled with rate ``q``, composed ``steps`` times::

    SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps)

An accountant turns the event into ``(epsilon, delta)``: the trained weights' distribution
changes by at most a factor ``e^epsilon`` (plus a probability ``delta`` of worse) when one unit
is added or removed. Two accountants:

* ``"rdp"`` (Renyi DP, Mironov 2017): fast, a slightly loose upper bound. TF Privacy's old
  README printed 3.01 for its MNIST example (noise 1.1, batch 256 of 60,000, 60 epochs,
  delta 1e-5); today's ``RdpAccountant``, with finer orders, gives 2.60 for the same;
* ``"pld"`` (privacy loss distributions): numerically tight, a little slower (2.38 there).

What the numbers assume, and what they do not cover:

* every step samples each unit independently with probability ``q`` (Poisson, see
  ``textrec.privacy.sampling``), clips each unit's gradient to ``C`` and adds fresh Gaussian
  noise; units do not interact through the loss;
* neighbouring datasets differ by adding or removing one unit (an example, or a user with all
  their rows for user-level DP);
* everything read from the private data outside DP-SGD is *not* covered: hyperparameter search
  on it, logged training losses, early stopping on private validation data, the frozen text
  vectors fed as features, the data-dependent choice of ``C``;
* floating-point noise from a non-cryptographic generator is the usual practice, not a proof.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers

import dp_accounting

from textrec._logging import quiet

ACCOUNTANTS = ("rdp", "pld")


def _number(name: str, value, *, integer: bool = False) -> float:
    """``value`` as a finite real number (an integer when ``integer``), else a clear error:
    a NaN or infinite input must never turn into a small epsilon."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if integer and int(value) != value:
        raise ValueError(f"{name} must be a whole number, got {value}")
    return float(value)


def check_dp_sgd(noise_multiplier: float, sampling_rate: float, steps: int,
                 delta: float | None = None) -> None:
    """Raise ``ValueError`` (or ``TypeError``) unless ``noise_multiplier`` is finite and >= 0,
    ``sampling_rate`` in (0, 1], ``steps`` a whole number >= 0 and ``delta`` in (0, 1)."""
    if _number("noise_multiplier", noise_multiplier) < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    if not 0 < _number("sampling_rate", sampling_rate) <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
    if _number("steps", steps, integer=True) < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    if delta is not None:
        _check_delta(delta)


def dp_sgd_event(noise_multiplier: float, sampling_rate: float, steps: int):
    """The ``DpEvent`` of ``steps`` Poisson-sampled Gaussian steps (``NoOpDpEvent`` for 0)."""
    check_dp_sgd(noise_multiplier, sampling_rate, steps)
    if int(steps) == 0:
        return dp_accounting.NoOpDpEvent()
    step = dp_accounting.PoissonSampledDpEvent(
        sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, int(steps))


def _quiet_absl():
    """The RDP accountant logs a warning for each fractional order it cannot evaluate (and
    leaves out, which only loosens the bound a little): hide them."""
    return quiet(logging.getLogger("absl"))


def make_accountant(accountant: str = "rdp"):
    """A fresh ``RdpAccountant`` or ``PLDAccountant`` (add-or-remove-one neighbours)."""
    if accountant == "rdp":
        return dp_accounting.rdp.RdpAccountant()
    if accountant == "pld":
        return dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-3)
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")


def epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float,
            accountant: str = "rdp") -> float:
    """Epsilon of DP-SGD at ``delta``: ``inf`` without noise, 0 for no step. Invalid inputs
    (NaN, infinite, negative, out of range) raise: the budget is never understated."""
    check_dp_sgd(noise_multiplier, sampling_rate, steps, delta)
    if int(steps) == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    ledger = make_accountant(accountant)
    with _quiet_absl():
        ledger.compose(dp_sgd_event(noise_multiplier, sampling_rate, steps))
        value = float(ledger.get_epsilon(delta))
    if math.isnan(value) or value < 0:
        raise ArithmeticError(f"the {accountant} accountant returned epsilon {value} for "
                              f"noise {noise_multiplier}, q {sampling_rate}, {steps} steps, "
                              f"delta {delta}")
    return value


def noise_multiplier_for_epsilon(target_epsilon: float, sampling_rate: float, steps: int,
                                 delta: float, accountant: str = "rdp",
                                 tolerance: float = 1e-3) -> float:
    """The smallest noise multiplier whose epsilon is at most ``target_epsilon`` (within
    ``tolerance``), found by ``dp_accounting.calibrate_dp_mechanism``."""
    _check_delta(delta)
    if _number("target_epsilon", target_epsilon) <= 0:
        raise ValueError(f"target_epsilon must be positive, got {target_epsilon}")
    check_dp_sgd(0.0, sampling_rate, steps)
    if int(steps) == 0:
        raise ValueError("steps is 0: no noise is needed for no step")
    with _quiet_absl():
        return float(dp_accounting.calibrate_dp_mechanism(
            lambda: make_accountant(accountant),
            lambda sigma: dp_sgd_event(sigma, sampling_rate, steps),
            target_epsilon, delta,
            bracket_interval=dp_accounting.LowerEndpointAndGuess(0.0, 1.0),
            tol=tolerance))


def _check_delta(delta: float) -> None:
    if not 0 < _number("delta", delta) < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")


@dataclasses.dataclass(frozen=True)
class PrivacyBudget:
    """One DP-SGD configuration and its cost.

    ``units``: the number of privacy units (examples or users); ``sampling_rate`` ``q``;
    ``steps``; ``noise_multiplier`` ``sigma``; ``delta``. ``expected_batch_size`` is
    ``q * units``: the divisor of the summed gradients.
    """

    units: int
    sampling_rate: float
    steps: int
    noise_multiplier: float
    delta: float
    unit: str = "example"

    def __post_init__(self):
        if _number("units", self.units, integer=True) < 1:
            raise ValueError(f"units must be at least 1, got {self.units}")
        check_dp_sgd(self.noise_multiplier, self.sampling_rate, self.steps, self.delta)

    @classmethod
    def for_epsilon(cls, target_epsilon: float, units: int, sampling_rate: float, steps: int,
                    delta: float, unit: str = "example", accountant: str = "rdp"):
        """The budget whose noise multiplier reaches ``target_epsilon``."""
        sigma = noise_multiplier_for_epsilon(target_epsilon, sampling_rate, steps, delta,
                                             accountant)
        return cls(units, sampling_rate, steps, sigma, delta, unit)

    @property
    def expected_batch_size(self) -> float:
        return self.sampling_rate * self.units

    @property
    def epochs(self) -> float:
        return self.steps * self.sampling_rate

    def epsilon(self, accountant: str = "rdp") -> float:
        return epsilon(self.noise_multiplier, self.sampling_rate, self.steps, self.delta,
                       accountant)

    def summary(self) -> str:
        return (f"{self.unit}-level DP-SGD: {self.units:,} {self.unit}s, "
                f"q = {self.sampling_rate:.4g} "
                f"(expected batch {self.expected_batch_size:.1f}), {self.steps:,} steps "
                f"({self.epochs:.1f} epochs), noise multiplier {self.noise_multiplier:.3f}: "
                f"epsilon {self.epsilon('rdp'):.2f} (RDP), {self.epsilon('pld'):.2f} (PLD) "
                f"at delta {self.delta:g}")
