"""Stage ``privacy``: a loss-threshold membership-inference audit of the trained joint model
(notebook 07), and a count of the personal data the PII scrubber finds in the train reviews.

Members are the (user, item) pairs of the train reviews, non-members the held-out validation
and test pairs, which the joint model never trained on. DP-SGD training is lesson 07's, not
the pipeline's.
"""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState

TEXT_ONLY_TEMPERATURE = 0.05   # cosine scores as softmax logits, as in notebook 07
N_RESAMPLES = 200


def privacy_stage(state: PipelineState) -> str:
    """Audit and scrub-count; puts ``state.metrics["membership audit auc"]``."""
    from textrec import models

    split = state.need("prepared", "privacy").split
    joint = state.need("joint_model", "privacy")
    user_ids, item_ids = state.need("user_ids", "privacy"), state.need("item_ids", "privacy")
    joint_scores = models.score_matrix(joint.query_model, joint.candidate_model, user_ids, item_ids)
    audits = {"joint model": membership_audit(joint_scores, split, user_ids, item_ids,
                                              state.seed)}
    if state.has("user_text") and state.has("item_text"):
        text_scores = state.user_text.vectors @ state.item_text.vectors.T
        audits["text-only (reference, not trained)"] = membership_audit(
            text_scores / TEXT_ONLY_TEMPERATURE, split, user_ids, item_ids, state.seed)
    state.metrics["membership audit auc"] = audits["joint model"]["auc"]
    pii = pii_review_counts(split.train)
    image = save_figure(_loss_figure(audits["joint model"]), state, "membership_audit",
                        "member and non-member losses of the joint model")
    return "\n".join(_audit_section(audits) + ["", image, ""] + _pii_section(pii, len(split.train)))


def membership_audit(scores, split, user_ids, item_ids, seed: int) -> dict:
    """Loss-threshold attack on full-softmax losses of train pairs (members) against held-out
    validation and test pairs (non-members), balanced; adds a bootstrap interval of the AUC
    (``low``, ``high``) and the balanced losses (``member_losses``, ``nonmember_losses``)."""
    from textrec import privacy

    heldout = pd.concat([split.validation, split.test], ignore_index=True)
    losses = [privacy.full_softmax_losses(scores, *privacy.pair_rows(
        frame, user_ids, item_ids, schema.USER, schema.ITEM)) for frame in (split.train, heldout)]
    members, nonmembers = _balanced(*losses, seed)
    attack = privacy.loss_threshold_attack(members, nonmembers, balance=False)
    low, high = auc_interval(members, nonmembers, seed)
    return {**attack, "low": low, "high": high, "member_losses": members,
            "nonmember_losses": nonmembers}


def _balanced(members, nonmembers, seed: int):
    """Both groups sampled down to the smaller one's size (seeded), as the attack does."""
    rng = np.random.default_rng(seed)
    n = min(len(members), len(nonmembers))
    if n == 0:
        raise ValueError("the membership audit needs train pairs and held-out pairs of known "
                         "users and items; the split has none of one kind")
    return rng.choice(members, n, replace=False), rng.choice(nonmembers, n, replace=False)


def auc_interval(member_losses, nonmember_losses, seed: int, confidence: float = 0.95,
                 n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """Percentile bootstrap interval of the attack AUC, resampling each group."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(len(member_losses)), np.zeros(len(nonmember_losses))]
    aucs = []
    for _ in range(n_resamples):
        members = rng.choice(member_losses, len(member_losses))
        others = rng.choice(nonmember_losses, len(nonmember_losses))
        aucs.append(roc_auc_score(labels, -np.r_[members, others]))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high)


def pii_review_counts(reviews: pd.DataFrame) -> dict:
    """PII type -> {"reviews": reviews with at least one, "found": matches}, over the text and
    summary of each review, plus an "any type" row."""
    from textrec import privacy

    per_type, found, any_pii = collections.Counter(), collections.Counter(), 0
    columns = [c for c in (schema.TEXT, schema.SUMMARY) if c in reviews]
    for row in reviews[columns].fillna("").astype(str).itertuples(index=False):
        counts = sum((privacy.scrub_text(text).counts for text in row), collections.Counter())
        per_type.update(counts.keys())
        found.update(counts)
        any_pii += bool(counts)
    table = {kind: {"reviews": per_type[kind], "found": found[kind]} for kind in privacy.PII_TYPES}
    table["any type"] = {"reviews": any_pii, "found": sum(found.values())}
    return table


def meaning(auc: float, low: float, high: float) -> str:
    """What an audit AUC says, in a sentence."""
    if low > 0.5:
        return (f"The attack does better than a coin flip (AUC {auc:.3f}, interval above 0.5): "
                "the model fits the pairs it trained on measurably better than new ones, so it "
                "leaks who is in the training data to someone who can query its scores.")
    return (f"The attack is not distinguishable from a coin flip (AUC {auc:.3f}, interval "
            "includes 0.5). That is not a proof of privacy: stronger attacks exist, and only "
            "DP-SGD gives a guarantee.")


def _audit_section(audits: dict) -> list[str]:
    rows = {name: {"AUC": a["auc"], "95% interval": f"[{a['low']:.3f}, {a['high']:.3f}]",
                   "advantage": a["advantage"], "pairs per group": a["members"]}
            for name, a in audits.items()}
    joint = audits["joint model"]
    return [
        "## Privacy",
        "Membership inference (loss threshold, Yeom et al. 2018): guess \"in training\" when "
        "the model's full-softmax loss of a (user, item) pair is low. Members: train pairs; "
        "non-members: validation and test pairs, sampled to equal numbers. AUC 0.5 is a coin "
        "flip, 1.0 tells every member apart; the advantage is the best threshold's TPR - FPR.",
        "",
        markdown_table(rows, ["AUC", "95% interval", "advantage", "pairs per group"],
                       first_column="model", digits=3),
        "",
        meaning(joint["auc"], joint["low"], joint["high"]),
        "Caveat: the held-out pairs are each user's *latest* reviews, so part of any gap can be "
        "drift over time rather than memorisation.",
        "",
        "No differential privacy here: DP-SGD training, its accounting and the audit at "
        "several privacy budgets are in lesson 07 (`notebooks/07_privacy_dp_sgd.ipynb`).",
    ]


def _pii_section(table: dict, n_reviews: int) -> list[str]:
    shown = {kind: row for kind, row in table.items() if row["reviews"] or kind == "any type"}
    return [
        "### Personal data in the train reviews",
        f"`textrec.privacy.scrub_text` over the text and summary of the {n_reviews:,} train "
        f"reviews: {table['any type']['reviews']:,} contain something it would replace "
        "(types with no match are left out of the table). The pipeline reports, it does not "
        "scrub: the models above read the text as it is. Patterns miss names in sentences, "
        "towns and the like (see `textrec.privacy.pii`).",
        "",
        markdown_table(shown, ["reviews", "found"], first_column="PII type"),
    ]


def _loss_figure(audit: dict):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.2))
    both = np.r_[audit["member_losses"], audit["nonmember_losses"]]
    bins = np.linspace(both.min(), both.max(), 40)
    axis.hist(audit["member_losses"], bins, alpha=0.6, label="members (train pairs)")
    axis.hist(audit["nonmember_losses"], bins, alpha=0.6, label="non-members (held out)")
    axis.set(xlabel="full-softmax loss of the pair", ylabel="pairs",
             title=f"Joint model, membership audit AUC {audit['auc']:.3f}")
    axis.legend(fontsize=8)
    return figure
