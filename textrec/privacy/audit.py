"""Membership inference: can an attacker tell training examples from unseen ones?

The loss-threshold attack (Yeom et al., 2018): a model fits its training examples better than
new ones, so "loss below a threshold" guesses "was in training". Sweeping the threshold gives a
ROC curve; its AUC is 0.5 when the attacker does no better than a coin, 1.0 when every member
is told apart. The attack advantage ``max(TPR - FPR)`` is the best single threshold's edge.

Differential privacy bounds any attack: at ``(epsilon, delta)``, ``TPR <= e^epsilon FPR +
delta``. An AUC near 0.5 from *this* attack does not prove privacy (stronger attacks exist);
an AUC well above 0.5 proves a leak.

Members and non-members must come from the same distribution, or the attack measures the
difference between the two (e.g. held-out reviews written later than training ones). Equal
numbers of each are drawn (seeded) so the AUC is not skewed by class sizes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score, roc_curve

from textrec import config


def loss_threshold_attack(member_losses, nonmember_losses, balance: bool = True,
                          seed: int = config.SEED) -> dict:
    """AUC and advantage of guessing "member" for low losses.

    Args:
      member_losses: per-example losses of training examples, float [n members].
      nonmember_losses: per-example losses of examples never trained on, float [n others].
      balance: sample the larger group down to the smaller one's size.

    Returns ``{"auc", "advantage", "members", "nonmembers"}``.
    """
    members = np.asarray(member_losses, float).ravel()
    others = np.asarray(nonmember_losses, float).ravel()
    if len(members) == 0 or len(others) == 0:
        raise ValueError("need at least one member and one non-member loss")
    if not (np.isfinite(members).all() and np.isfinite(others).all()):
        raise ValueError("losses must be finite")
    if balance:
        rng = np.random.default_rng(seed)
        n = min(len(members), len(others))
        members = rng.choice(members, n, replace=False)
        others = rng.choice(others, n, replace=False)
    labels = np.r_[np.ones(len(members)), np.zeros(len(others))]
    scores = -np.r_[members, others]  # lower loss -> more likely a member
    false_positive, true_positive, _ = roc_curve(labels, scores)
    return {"auc": float(roc_auc_score(labels, scores)),
            "advantage": float(np.max(true_positive - false_positive)),
            "members": int(len(members)), "nonmembers": int(len(others))}


def full_softmax_losses(scores, user_rows, item_rows) -> np.ndarray:
    """Cross-entropy of each (user, item) pair under a softmax over the whole catalogue:
    ``logsumexp(scores[u]) - scores[u, i]``, float [n pairs]. ``scores`` [users, items]."""
    scores = np.asarray(scores, np.float64)
    user_rows, item_rows = np.asarray(user_rows), np.asarray(item_rows)
    return logsumexp(scores[user_rows], axis=1) - scores[user_rows, item_rows]


def pair_rows(frame: pd.DataFrame, user_ids, item_ids, user_column: str, item_column: str):
    """Row indices (users, items) of the pairs of ``frame`` whose user and item are known."""
    users = {u: r for r, u in enumerate(user_ids)}
    items = {i: r for r, i in enumerate(item_ids)}
    u = frame[user_column].map(users)
    i = frame[item_column].map(items)
    known = u.notna() & i.notna()
    return u[known].astype(int).to_numpy(), i[known].astype(int).to_numpy()
