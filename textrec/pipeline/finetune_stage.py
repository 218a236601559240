"""Stage ``finetune``: fine-tune the sentiment encoder as notebook 02 does, and compare it with
the majority class and a logistic regression on frozen sentence vectors.

The fine-tuned model is saved under the reports folder (``models/finetuned-sentiment``), not in
the default model cache, so that a pipeline run never replaces what a learner saved in
notebook 02 (which notebook 03 then reads).
"""

from __future__ import annotations

import numpy as np

from textrec.data import schema
from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState

BATCH_SIZE = 8                # notebook 02's settings
LEARNING_RATE = 1e-4
EVALUATIONS_PER_EPOCH = 2     # two points on the learning curve per epoch
FOLDER = ("models", "finetuned-sentiment")


def finetune_stage(state: PipelineState) -> str:
    """Fine-tune, evaluate on the validation reviews, save; puts ``finetuned_folder`` and
    ``sentiment_metrics`` (model name -> accuracy, macro-F1)."""
    from textrec import text
    from textrec.text.sentiment_data import stratified_sample

    split = state.need("prepared", "finetune").split
    train = stratified_sample(text.sentiment_frame(split.train),
                              state.settings.finetune_examples, state.seed)
    validation = text.sentiment_frame(split.validation)
    missing = _missing_labels(train, validation)
    if missing:
        return f"## Fine-tuning the sentiment encoder\nSkipped: {missing}."
    result = fine_tune(split, state)
    fine_tuned = text.evaluate_sentiment(result, split.validation)
    table = {
        "majority class": text.majority_baseline(train, split.validation),
        "frozen encoder + logistic regression": text.frozen_embedding_baseline(
            train, split.validation, state.base_embedder(), state.seed),
        "fine-tuned": fine_tuned,
    }
    table = {name: {"accuracy": m["accuracy"], "macro-F1": m["macro_f1"]}
             for name, m in table.items()}
    folder = text.save_finetuned(result, state.reports.joinpath(*FOLDER),
                                 metrics={"validation": table})
    state.put("finetune", finetuned_folder=folder, sentiment_metrics=table)
    state.metrics["sentiment macro-f1 (fine-tuned, validation)"] = fine_tuned["macro_f1"]
    image = save_figure(_figure(result, fine_tuned), state, "finetune",
                        "fine-tuning learning curve and confusion matrix")
    return "\n".join(_section(result, table, validation, folder) + ["", image])


def fine_tune(split, state: PipelineState):
    """``text.finetune_sentiment`` with notebook 02's settings, sized by the profile."""
    from textrec import text

    profile = state.settings
    # Resolve (on a first run: convert) the encoder before finetune_sentiment seeds the random
    # generators: converting draws random numbers, and the new head's initial weights would
    # then differ between a first run and the next.
    encoder = text.resolve_encoder()
    return text.finetune_sentiment(
        split.train, split.validation, encoder, max_examples=profile.finetune_examples,
        epochs=profile.finetune_epochs, max_length=profile.max_seq_length,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
        evaluations_per_epoch=EVALUATIONS_PER_EPOCH, seed=state.seed,
        progress=False)  # the pipeline's stage bar is its one progress display


def _missing_labels(train, validation) -> str:
    """Why fine-tuning cannot run on these reviews, or "" when it can."""
    classes = set(train[schema.SENTIMENT])
    if classes != {0, 1}:
        return (f"the train reviews hold only sentiment class(es) {sorted(classes)} "
                "(need both 1-2 star and 4-5 star reviews)")
    if validation.empty:
        return "the validation split has no 1-2 or 4-5 star review with text"
    return ""


def _section(result, table: dict, validation, folder) -> list[str]:
    settings = result.settings
    n_validation = len(validation)
    n_negative = int((validation[schema.SENTIMENT] == 0).sum())
    counts = ", ".join(f"{n:,} {name}" for name, n in result.label_counts.items())
    return [
        "## Fine-tuning the sentiment encoder",
        f"`{result.encoder_name}` with a new two-logit head, fine-tuned on {result.n_train:,} "
        f"train reviews ({counts}; stratified sample, neutral 3-star reviews left out) for "
        f"{settings['epochs']} epoch(s), {settings['steps']} steps of {settings['batch_size']}, "
        f"peak learning rate {settings['learning_rate']:g}, class-weighted loss, "
        f"{result.seconds:.0f} s. Saved to `{folder}` (under the reports folder, so the model "
        "notebook 02 saves in the default cache is left alone).",
        "",
        f"Scored on the {n_validation:,} non-neutral validation reviews ({n_negative:,} "
        "negative, so one review moves the negative class's F1 by several points). The "
        "validation reviews "
        "also drive early stopping, so these numbers are slightly optimistic; the test split is "
        "kept for the recommenders. Macro-F1 is the number to read: the majority class scores "
        "a high accuracy and a low macro-F1.",
        "",
        markdown_table(table, ["accuracy", "macro-F1"], first_column="validation", digits=3),
        "",
        "Later stages embed text with the *base* encoder, not this one (see `interests`).",
    ]


def _figure(result, fine_tuned: dict):
    import matplotlib.pyplot as plt

    figure, (curve, matrix) = plt.subplots(1, 2, figsize=(10, 3.5))
    rounds = np.arange(1, len(result.history["loss"]) + 1) / EVALUATIONS_PER_EPOCH
    curve.plot(rounds, result.history["loss"], "o-", label="train")
    if "val_loss" in result.history:
        curve.plot(rounds, result.history["val_loss"], "o-", label="validation")
    curve.set(xlabel="epoch", ylabel="class-weighted loss", title="fine-tuning loss")
    curve.legend()
    confusion = np.array(fine_tuned["confusion_matrix"])
    matrix.imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        matrix.text(column, row, f"{count:,}", ha="center", va="center")
    labels = ["negative", "positive"]
    matrix.set(xticks=[0, 1], yticks=[0, 1], xticklabels=labels, yticklabels=labels,
               xlabel="predicted", ylabel="true", title="fine-tuned, validation reviews")
    return figure
