"""Exercises, solutions and grading: generated stubs, the checks, `textrec exercises` and
`textrec grade`."""

import contextlib
import csv
import html
import inspect
import io
import random
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from textrec import cli, grading
from textrec.data import schema, splits
from textrec.grading import exercises, grader
from textrec.grading.checking import TASKS
from textrec.grading.data_preparation import reference_leaky_users
from tests.grading_class import CELL_LIMIT, graded_class

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
DAY = 86_400


def read(path):
    return nbformat.read(path, as_version=4)


def run_in_process(notebook):
    """Run a notebook's code cells here, like a kernel that goes on after errors.

    Returns (namespace, {cell index: (printed text, exception or None)})."""
    namespace, results = {}, {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        printed, error = io.StringIO(), None
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(cell.source, f"<cell {index}>", "exec"), namespace)
            except Exception as exc:  # noqa: BLE001  (recorded, like a notebook does)
                error = exc
        results[index] = (printed.getvalue(), error)
    return namespace, results


def check_cells(notebook):
    return {
        exercises.check_task(c): i for i, c in enumerate(notebook.cells) if exercises.check_task(c)
    }


def lesson_of(path):
    return read(path).metadata["textrec"]["lesson"]


# ------------------------------------------------------------------ exercises from solutions

def test_every_solution_has_its_exercise_and_every_lesson_its_tasks():
    assert [p.name for p in SOLUTIONS] == sorted(
        p.name for p in (ROOT / "exercises").glob("*.ipynb")
    )
    assert {lesson_of(p) for p in SOLUTIONS} == set(TASKS) >= {
        "01_data_preparation", "02_bert_finetuning", "03_interest_vectors"}
    for path in SOLUTIONS:
        notebook, tasks = read(path), TASKS[lesson_of(path)]
        assert 2 <= len(tasks) <= 4
        cells = check_cells(notebook)
        assert sorted(cells) == [t.number for t in tasks]
        for task in tasks:  # the check cell runs exactly what the grader runs
            assert notebook.cells[cells[task.number]].source == task.check_source


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_has_a_stub_in_place_of_each_solution_region(path):
    solution, exercise = read(path), read(ROOT / "exercises" / path.name)
    assert len(solution.cells) == len(exercise.cells)
    for before, after in zip(solution.cells, exercise.cells):
        assert before.cell_type == after.cell_type and before.get("id") == after.get("id")
        assert before.metadata == after.metadata
        regions = exercises.solution_regions(before.source) if before.cell_type == "code" else []
        stubs = re.findall(
            r'^( *)raise NotImplementedError\("Write your solution here \(task (\d)\)"\)$',
            after.source,
            re.MULTILINE,
        )
        assert len(stubs) == len(regions)
        assert [indent for indent, _ in stubs] == [indent for indent, _ in regions]
        assert exercises.BEGIN not in after.source and exercises.END not in after.source
        if not regions:  # only the badge changes outside solution regions
            assert after.source == before.source.replace(
                "/blob/main/solutions/", "/blob/main/exercises/"
            )
    assert f"blob/main/exercises/{path.name})" in exercise.cells[0].source


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_no_solution_code_leaks_into_the_exercise(path):
    solution = read(path)
    outside = "\n".join(exercises.strip_solutions(c.source, 0) for c in solution.cells)
    exercise_text = "\n".join(c.source for c in read(ROOT / "exercises" / path.name).cells)
    lines = {line.strip() for c in solution.cells if c.cell_type == "code"
             for _, region in exercises.solution_regions(c.source) for line in region}
    secret = [line for line in lines if line and not line.startswith("#") and line not in outside]
    assert len(secret) >= 12
    assert [line for line in secret if line in exercise_text] == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_stubs_raise_and_their_checks_say_not_done(path):
    exercise = read(ROOT / "exercises" / path.name)
    namespace, results = run_in_process(exercise)
    for task in TASKS[lesson_of(path)]:
        stub = namespace[task.function]
        arguments = [None] * len(inspect.signature(stub).parameters)
        with pytest.raises(NotImplementedError, match=f"task {task.number}"):
            stub(*arguments)
        _, error = results[check_cells(exercise)[task.number]]
        assert isinstance(error, grading.CheckFailed) and "not done yet" in str(error)


@pytest.fixture(scope="module")
def solved():
    """The functions of every solution notebook, after checking that each runs cleanly."""
    functions = {}
    for path in SOLUTIONS:
        notebook = read(path)
        namespace, results = run_in_process(notebook)
        assert [(i, e) for i, (_, e) in results.items() if e is not None] == []
        for task in TASKS[lesson_of(path)]:
            printed, _ = results[check_cells(notebook)[task.number]]
            assert task.pass_line in printed
            functions[task.function] = namespace[task.function]
    return functions


def test_every_check_passes_on_its_solution(solved, capsys):
    for tasks in TASKS.values():
        for task in tasks:
            task.check(solved[task.function])
    assert capsys.readouterr().out.count("✓ Task") == sum(len(t) for t in TASKS.values())


@pytest.mark.parametrize("seed", [1, 2**40 + 7, 987654321])
def test_every_solution_passes_the_hidden_cases_of_any_grading_seed(solved, seed):
    from textrec.grading import checking

    checking.set_grading_seed(seed)
    try:
        for tasks in TASKS.values():
            for task in tasks:
                assert task.evaluate(solved[task.function]) > 0
    finally:
        checking.set_grading_seed(None)


# --------------------------------------------------------------- the checks, right and wrong

def fails_with(check, function, hint):
    with pytest.raises(grading.CheckFailed) as failure:
        check(function)
    assert hint in str(failure.value), str(failure.value)
    assert isinstance(failure.value, AssertionError)


def stub(*args):
    raise NotImplementedError("Write your solution here (task 1)")


@pytest.mark.parametrize("check", [t.check for tasks in TASKS.values() for t in tasks],
                         ids=lambda c: c.__name__)
def test_every_check_fails_a_stub_and_a_non_function(check):
    fails_with(check, stub, "is not done yet")
    fails_with(check, 42, "pass the function itself")


def clean_without(step):
    def clean(text):
        if step != "unescape":
            text = html.unescape(text)
        text = re.sub(r"<[^>]*>", "" if step == "tag space" else " ", text)
        if step != "urls":
            text = re.sub(r"(?:https?://|www\.)\S+", " ", text)
        return text if step == "whitespace" else re.sub(r"\s+", " ", text).strip()
    return clean


def test_clean_review_text_check():
    grading.check_clean_review_text(clean_without(None))
    fails_with(grading.check_clean_review_text, clean_without("unescape"), "HTML entities")
    fails_with(
        grading.check_clean_review_text, clean_without("tag space"), "replace each tag with a space"
    )
    fails_with(grading.check_clean_review_text, clean_without("urls"), "a URL is still in the text")
    fails_with(grading.check_clean_review_text, clean_without("whitespace"), "collapse every run")


def split_by(columns, min_reviews=3):
    def leave_last_out(reviews):
        ordered = reviews.sort_values(columns, kind="stable")
        from_end = ordered.groupby(schema.USER).cumcount(ascending=False)
        enough = ordered[schema.USER].map(ordered[schema.USER].value_counts()) >= min_reviews
        return (ordered[~enough | (from_end >= 2)], ordered[enough & (from_end == 1)],
                ordered[enough & (from_end == 0)])
    return leave_last_out


def test_leave_last_out_check():
    grading.check_leave_last_out(
        lambda reviews: tuple(splits.leave_last_out(reviews).frames().values())
    )
    fails_with(
        grading.check_leave_last_out,
        split_by([schema.USER, schema.TIMESTAMP]),
        "user u1's test item should be the later of two same-day reviews: which column breaks "
        "ties?",
    )
    fails_with(grading.check_leave_last_out, split_by([schema.USER, schema.ORDER]),
               "user u2's validation review is not the right one in time")
    fails_with(
        grading.check_leave_last_out,
        split_by([schema.USER, schema.TIMESTAMP, schema.ORDER], 2),
        "user u3 has only 2 review(s) but has one in validation",
    )
    fails_with(grading.check_leave_last_out, lambda reviews: splits.leave_last_out(reviews),
               "return a tuple of three DataFrames")


def leaky_users(strict_time=False, empty_texts_match=False, any_user_item=False):
    def find(train, test):
        both = train.merge(test, on=schema.USER, suffixes=("", "_test"))
        late = both[schema.TIMESTAMP] > both[schema.TIMESTAMP + "_test"]
        if not strict_time:
            late |= ((both[schema.TIMESTAMP] == both[schema.TIMESTAMP + "_test"])
                     & (both[schema.ORDER] >= both[schema.ORDER + "_test"]))
        same_text = both[schema.TEXT] == both[schema.TEXT + "_test"]
        if not empty_texts_match:
            same_text &= both[schema.TEXT] != ""
        users = set(
            both.loc[
                late | same_text | (both[schema.ITEM] == both[schema.ITEM + "_test"]), schema.USER
            ]
        )
        if any_user_item:
            users |= set(test.loc[test[schema.ITEM].isin(train[schema.ITEM]), schema.USER])
        return users
    return find


def test_find_leaky_users_check():
    grading.check_find_leaky_users(leaky_users())
    fails_with(
        grading.check_find_leaky_users, leaky_users(strict_time=True), "compare (timestamp, order)"
    )
    fails_with(grading.check_find_leaky_users, leaky_users(empty_texts_match=True), "ignore them")
    fails_with(
        grading.check_find_leaky_users, leaky_users(any_user_item=True), "another user reviewing"
    )


def test_reference_leaky_users_agrees_with_check_leakage():
    rng = np.random.default_rng(1)
    from textrec.grading.data_preparation import _random_leaky_split
    for _ in range(3):
        train, test = _random_leaky_split(rng)
        by_check = {user for user, held_out in test.groupby(schema.USER)
                    if splits.check_leakage(splits.Split(train[train[schema.USER] == user],
                                                         train.iloc[:0], held_out, "one"))}
        assert reference_leaky_users(train, test) == by_check and by_check


def test_masked_mean_pool_check():
    import tensorflow as tf

    from textrec.text.pooling import mean_pool

    grading.check_masked_mean_pool(mean_pool)

    def unguarded(embeddings, mask):
        mask = tf.cast(mask, embeddings.dtype)[:, :, tf.newaxis]
        return tf.reduce_sum(embeddings * mask, 1) / tf.reduce_sum(mask, 1)

    def by_length(embeddings, mask):
        mask = tf.cast(mask, embeddings.dtype)[:, :, tf.newaxis]
        return tf.reduce_sum(embeddings * mask, 1) / embeddings.shape[1]

    fails_with(grading.check_masked_mean_pool, lambda e, m: tf.reduce_mean(e, axis=1),
               "padding tokens were averaged in")
    fails_with(grading.check_masked_mean_pool, unguarded, "gave NaN")
    fails_with(grading.check_masked_mean_pool, by_length, "divided by the sequence length")
    fails_with(
        grading.check_masked_mean_pool, lambda e, m: tf.reduce_mean(e, axis=2), "expected shape"
    )


def weights(formula):
    def class_weights(labels):
        classes, counts = np.unique(np.asarray(labels), return_counts=True)
        return {int(c): formula(len(labels), len(classes), n) for c, n in zip(classes, counts)}
    return class_weights


def test_class_weights_check():
    from sklearn.utils.class_weight import compute_class_weight

    grading.check_class_weights(lambda y: dict(zip(np.unique(y).tolist(), compute_class_weight(
        "balanced", classes=np.unique(y), y=np.asarray(y)))))
    fails_with(
        grading.check_class_weights,
        weights(lambda n, k, c: n / c),
        "divide by the number of classes",
    )
    fails_with(
        grading.check_class_weights, weights(lambda n, k, c: c / n), "rare classes must weigh more"
    )
    fails_with(grading.check_class_weights, lambda y: [2.0, 0.5], "return a dict")


def deletion(global_seed=False, drop_all=False, seeded=True, shuffle=False):
    def random_deletion(text, p, seed):
        words = text.split()
        if not words:
            return ""
        if global_seed:
            random.seed(seed)
        rng = random if global_seed else random.Random(seed if seeded else None)
        kept = [w for w in words if rng.random() >= p]
        if shuffle and p > 0:
            rng.shuffle(kept)
        return " ".join(kept) if kept or drop_all else rng.choice(words)
    return random_deletion


def test_random_deletion_check():
    grading.check_random_deletion(deletion())
    fails_with(grading.check_random_deletion, deletion(global_seed=True), "global random state")
    fails_with(
        grading.check_random_deletion, deletion(drop_all=True), "exactly one word should be kept"
    )
    fails_with(
        grading.check_random_deletion,
        deletion(seeded=False),
        "the same seed must give the same text",
    )
    fails_with(grading.check_random_deletion, deletion(shuffle=True), "in their order")
    fails_with(grading.check_random_deletion, lambda text, p, seed: text.split()[0] if text else "",
               "with p=0 nothing is deleted")


def interest(decay="half", unit=True, day=DAY, absolute=False):
    def vector(review_vectors, timestamps, half_life_days):
        reference = 0 if absolute else timestamps.max()
        age = (reference - timestamps.astype(float)) / day
        if absolute:
            age = -age
        weights = (
            0.5 ** (age / half_life_days) if decay == "half" else np.exp(-age / half_life_days)
        )
        summed = weights @ review_vectors
        return summed / np.linalg.norm(summed) if unit else summed
    return vector


def test_recency_interest_vector_check():
    grading.check_recency_interest_vector(interest())
    check = grading.check_recency_interest_vector
    fails_with(check, interest(day=1), "timestamps are in seconds but the half-life is in days")
    fails_with(check, interest(unit=False), "scale it to unit length")
    fails_with(check, interest(decay="exp"), "exactly half")
    fails_with(check, interest(absolute=True), "the older reviews weigh more")


def ndcg(discount=lambda r: 1 / np.log2(r + 1), normalise=True, ideal_over_all=False, cut=True):
    def ndcg_at_k(ranked, relevant, k):
        ranked = list(ranked)[:k] if cut else list(ranked)
        dcg = sum(discount(r) for r, item in enumerate(ranked, start=1) if item in relevant)
        n_ideal = len(relevant) if ideal_over_all else min(k, len(relevant))
        return dcg / sum(discount(r) for r in range(1, n_ideal + 1)) if normalise else dcg
    return ndcg_at_k


def test_ndcg_at_k_check():
    grading.check_ndcg_at_k(ndcg())
    fails_with(grading.check_ndcg_at_k, ndcg(discount=lambda r: 1 / r), "1 / log2(r + 1)")
    fails_with(grading.check_ndcg_at_k, ndcg(normalise=False), "divide it by the ideal DCG")
    fails_with(grading.check_ndcg_at_k, ndcg(ideal_over_all=True), "at most k items")
    fails_with(grading.check_ndcg_at_k, ndcg(cut=False), "only the first k ranks count")
    with np.errstate(divide="ignore"):  # 1 / log2(1): the off-by-one this hint is about
        fails_with(
            grading.check_ndcg_at_k, ndcg(discount=lambda r: 1 / np.log2(r)), "ranks count from 1"
        )
    fails_with(grading.check_ndcg_at_k, lambda ranked, relevant, k: "high", "return one number")


def top_k(cosine=True, mask=True, reverse=False):
    def recommend(user, items, seen, k):
        scores = items @ user
        if cosine:
            scores = scores / (np.linalg.norm(items, axis=1) * np.linalg.norm(user))
        if mask:
            scores[list(seen)] = -np.inf
        best = np.argsort(-scores, kind="stable")[:k]
        return best[::-1] if reverse else best
    return recommend


def test_recommend_top_k_check():
    grading.check_recommend_top_k(top_k())
    fails_with(
        grading.check_recommend_top_k,
        top_k(cosine=False),
        "cosine similarity divides by the lengths",
    )
    fails_with(grading.check_recommend_top_k, top_k(mask=False), "item 0 was already seen")
    fails_with(
        grading.check_recommend_top_k, top_k(reverse=True), "the right items in the wrong order"
    )


# ----------------------------------------------------------------------- textrec exercises

def test_strip_solutions_keeps_indentation_and_rejects_broken_markers():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert exercises.strip_solutions(source, 2) == (
        'def f(x):\n    raise NotImplementedError("Write your solution here (task 2)")\n')
    with pytest.raises(ValueError, match="without an"):
        exercises.solution_regions("### BEGIN SOLUTION\nx = 1")
    solution = read(SOLUTIONS[0])
    solution.cells = [c for c in solution.cells if exercises.check_task(c) is None]
    with pytest.raises(ValueError, match="no check cell"):
        exercises.exercise_from_solution(solution)


def test_exercises_check_passes_on_the_repository(capsys):
    assert cli.main(["exercises", "--check"]) == 0
    assert "exercises up to date" in capsys.readouterr().out


def test_exercises_check_fails_on_a_tampered_copy_and_regenerating_fixes_it(tmp_path, capsys):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    folders = [
        "--solutions",
        str(tmp_path / "solutions"),
        "--exercises",
        str(tmp_path / "exercises"),
    ]
    assert cli.main(["exercises", "--check", *folders]) == 0

    edited = tmp_path / "exercises" / "01_data_preparation.ipynb"
    edited.write_text(
        edited.read_text().replace("Write your solution here (task 2)", "return None")
    )
    (tmp_path / "exercises" / "03_interest_vectors.ipynb").unlink()
    assert cli.main(["exercises", "--check", *folders]) == 1
    stale = capsys.readouterr().err
    assert (
        "01_data_preparation.ipynb: differs" in stale
        and "03_interest_vectors.ipynb: missing" in stale
    )
    assert "02_bert_finetuning" not in stale

    assert cli.main(["exercises", *folders]) == 0
    assert cli.main(["exercises", "--check", *folders]) == 0
    assert edited.read_text() == (ROOT / "exercises" / edited.name).read_text()


# --------------------------------------------------------------------------- textrec grade

def test_lesson_is_read_from_metadata_then_file_name_then_check_calls(tmp_path):
    notebook = read(SOLUTIONS[1])
    assert grader.identify_lesson(notebook, Path("alice.ipynb")) == "02_bert_finetuning"
    notebook.metadata.pop("textrec")
    assert grader.identify_lesson(notebook, Path("02_mine.ipynb")) == "02_bert_finetuning"
    assert grader.identify_lesson(notebook, Path("alice.ipynb")) == "02_bert_finetuning"
    notebook.cells = []
    assert grader.identify_lesson(notebook, Path("alice.ipynb")) is None


@pytest.fixture(scope="module")
def graded():
    """A made-up class graded by `textrec grade`'s code (tests/grading_class.py): alice right,
    bob partly right, carol unreadable, dave right but with a never-ending cell, and cheats."""
    return graded_class()


@pytest.mark.slow
def test_grader_scores_each_submission(graded):
    submissions, out, lines = graded
    assert [(name, submissions[name].score, submissions[name].out_of)
            for name in ("alice", "bob", "carol", "dave")] == [
        ("alice", 3, 3), ("bob", 1, 3), ("carol", 0, 3), ("dave", 3, 3)]
    bob = {r.number: r for r in submissions["bob"].results}
    assert bob[1].passed  # its edited check cell was replaced by the real check, which passes
    assert "task 1: the check cell was edited" in submissions["bob"].notes[0]
    assert "which column breaks ties?" in bob[2].reason and not bob[2].reason.startswith("Task")
    assert bob[3].reason.startswith("not done yet")
    assert [r.reason for r in submissions["carol"].results] == ["not a readable notebook"] * 3
    assert "NotJSONError" in submissions["carol"].notes[0]
    limit = f"{CELL_LIMIT} s cell limit"
    assert any("while True" in p and limit in p for p in submissions["dave"].problems)
    assert submissions["dave"].seconds >= CELL_LIMIT
    assert [p for p in submissions["alice"].problems] == []
    assert len(lines) == len(submissions) + 3
    assert (
        lines[0].startswith(f"grading {len(submissions)} notebook(s)") and "3 at a time" in lines[0]
    )
    assert any(line.startswith("[") and "] alice: 3/3 tasks in" in line for line in lines)
    summary = lines[-2]
    assert summary.startswith("class graded in ") and "with 3 job(s)" in summary


@pytest.mark.slow
def test_grader_runs_each_kernel_in_a_fresh_directory_with_the_quick_profile(graded):
    alice = graded[0]["alice"].executed
    profile, home, cwd = alice.cells[3].outputs[0]["text"].split()
    assert profile == "quick" and Path(home).parent.resolve() == Path(cwd).parent.resolve()
    assert "textrec-grade-" in cwd and not Path(cwd).exists()  # removed afterwards


@pytest.mark.slow
def test_grader_writes_the_score_tables_and_feedback(graded):
    _, out, _ = graded
    with (out / "scores.csv").open() as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["alice"]["task 1"] == rows["alice"]["task 3"] == "pass"
    assert rows["alice"]["total"] == "3"
    assert rows["bob"]["task 3"].startswith("not done yet") and rows["bob"]["total"] == "1"
    assert rows["carol"]["total"] == "0" and "NotJSONError" in rows["carol"]["notes"]
    table = (out / "scores.md").read_text()
    assert "| alice | 01_data_preparation | ✓ | ✓ | ✓ | 3/3 |" in table
    assert {"alice.md", "bob.md", "carol.md", "dave.md"} <= {
        p.name for p in (out / "feedback").iterdir()}
    feedback = (out / "feedback" / "bob.md").read_text()
    assert "1 of 3 tasks passed" in feedback and "which column breaks ties?" in feedback
    executed = read(out / "executed" / "dave.ipynb")
    assert any(o.get("ename") == "TimeoutError"
               for c in executed.cells for o in c.get("outputs", []))


def test_hidden_cases_are_salted_only_while_grading():
    from textrec.grading import checking

    fixed = checking.hidden_rng(5).integers(0, 10**9, 3).tolist()
    assert checking.hidden_rng(5).integers(0, 10**9, 3).tolist() == fixed
    checking.set_grading_seed(12345)
    try:
        assert checking.hidden_rng(5).integers(0, 10**9, 3).tolist() != fixed
    finally:
        checking.set_grading_seed(None)
    assert checking.hidden_rng(5).integers(0, 10**9, 3).tolist() == fixed


def test_grade_command_rejects_a_bad_lesson_cell_limit(tmp_path, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    assert cli.main(["grade", str(tmp_path), "--lesson-cell-timeout", "01_data_preparation"]) == 2
    assert "LESSON=SECONDS" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no such lesson"):
        grader.grade_folder(tmp_path, lesson_cell_timeouts={"99_nothing": 5})


def test_grade_command_reports_a_missing_folder(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    pd.DataFrame().to_csv(tmp_path / "notes.csv")
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert "no .ipynb files" in capsys.readouterr().err


# ------------------------------------------------------------- lesson 04: two-tower retrieval

def in_batch_loss(temperature="divide", reduce=np.mean, transpose=False):
    def loss(q, c, t):
        logits = q @ c.T
        logits = logits.T if transpose else logits
        logits = {"divide": logits / t, "multiply": logits * t, "ignore": logits}[temperature]
        log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(reduce(-np.diag(log_softmax)))
    return loss


def test_in_batch_softmax_loss_check():
    from textrec.grading.two_tower_retrieval import reference_in_batch_loss

    grading.check_in_batch_softmax_loss(reference_in_batch_loss)
    grading.check_in_batch_softmax_loss(in_batch_loss())
    check = grading.check_in_batch_softmax_loss
    fails_with(check, in_batch_loss(reduce=np.sum), "take the mean")
    fails_with(check, in_batch_loss(temperature="multiply"), "divide the logits by the temperature")
    fails_with(check, in_batch_loss(temperature="ignore"), "the temperature was ignored")
    fails_with(check, in_batch_loss(transpose=True), "the softmax ran over queries")


def test_logq_correct_check():
    from textrec.grading.two_tower_retrieval import reference_logq

    grading.check_logq_correct(reference_logq)
    check = grading.check_logq_correct
    fails_with(check, lambda logits, p: logits + np.log(p), "the wrong way")
    fails_with(check, lambda logits, p: logits - p, "not the probability itself")
    fails_with(check, lambda logits, p: logits - np.log(p)[:, None], "one entry per candidate")

    def by_rows_when_square(logits, p):
        return (
            logits - np.log(p)[:, None]
            if logits.shape[0] == logits.shape[1]
            else logits - np.log(p)
        )
    fails_with(check, by_rows_when_square, "subtract log(p[j]) from column j")


def test_top_k_unseen_check():
    from textrec.grading.two_tower_retrieval import reference_top_k_unseen

    grading.check_top_k_unseen(reference_top_k_unseen)
    check = grading.check_top_k_unseen
    fails_with(
        check,
        lambda scores, seen, k: np.argsort(-scores, axis=1)[:, :k],
        "a seen item was recommended",
    )
    fails_with(
        check, lambda s, seen, k: np.sort(reference_top_k_unseen(s, seen, k), axis=1), "best first"
    )
    fails_with(check, lambda s, seen, k: reference_top_k_unseen(-s, seen, k), "the lowest scores")


# -------------------------------------------------------------------- lesson 07: privacy, DP-SGD

def clip(kind):
    def clip_rows(g, c):
        norms = np.linalg.norm(g, axis=1, keepdims=True)
        if kind == "values":
            return np.clip(g, -c, c)
        if kind == "matrix":
            return g * min(1.0, c / np.linalg.norm(g))
        if kind == "always":
            return g * c / np.maximum(norms, 1e-12)
        return g / norms * np.minimum(norms, c)  # "nan": 0 / 0 on a zero row
    return clip_rows


def test_clip_rows_check():
    from textrec.grading.privacy_dp_sgd import reference_clip_rows

    grading.check_clip_rows(reference_clip_rows)
    check = grading.check_clip_rows
    with np.errstate(divide="ignore", invalid="ignore"):
        fails_with(check, clip("nan"), "a zero gradient gave NaN")
    fails_with(check, clip("values"), "each value was clipped on its own")
    fails_with(check, clip("matrix"), "the whole matrix was clipped as one")
    fails_with(check, clip("always"), "should stay unchanged")


def test_luhn_valid_check():
    from textrec.grading.privacy_dp_sgd import _luhn_from_left, _luhn_no_nine
    from textrec.privacy import pii

    grading.check_luhn_valid(pii.luhn_valid)
    fails_with(grading.check_luhn_valid, _luhn_from_left, "count positions from the right")
    fails_with(grading.check_luhn_valid, _luhn_no_nine, "subtract 9")
    fails_with(grading.check_luhn_valid, lambda digits: True, "example '4539148803436468'")
    fails_with(grading.check_luhn_valid, lambda digits: "yes", "return True or False")


def noisy(std=lambda z, c: z * c, clipped=True, seeded=True, mean=False):
    from textrec.grading.privacy_dp_sgd import reference_clip_rows

    def noisy_clipped_sum(g, c, z, seed):
        rows = reference_clip_rows(g, c) if clipped else g
        summed = rows.mean(axis=0) if mean else rows.sum(axis=0)
        rng = np.random.default_rng(seed if seeded else None)
        return summed + rng.normal(scale=std(z, c), size=summed.shape)
    return noisy_clipped_sum


def test_noisy_clipped_sum_check():
    grading.check_noisy_clipped_sum(noisy())
    check = grading.check_noisy_clipped_sum
    fails_with(check, noisy(clipped=False), "the unclipped sum")
    fails_with(check, noisy(mean=True), "that is the mean")
    fails_with(check, noisy(seeded=False), "the same seed gave different noise")
    fails_with(check, noisy(std=lambda z, c: z), "not noise_multiplier alone")
    fails_with(check, noisy(std=lambda z, c: z * c / 4), "should be noise_multiplier * clip_norm")


# ------------------------------------------------------------------------ lesson 06: evaluation

def ease(kind):
    def ease_weights(x, l2):
        gram = x.T @ x
        precision = np.linalg.inv(gram + (1.0 if kind == "no l2" else l2) * np.eye(len(gram)))
        if kind == "rows":
            return np.eye(len(gram)) - precision / np.diag(precision)[:, None]
        if kind == "no identity":
            return -precision / np.diag(precision)
        return np.eye(len(gram)) - precision / np.diag(precision)
    return ease_weights


def test_ease_weights_check():
    from textrec.grading.evaluation_lesson import reference_ease_weights

    grading.check_ease_weights(reference_ease_weights)
    grading.check_ease_weights(ease("right"))
    check = grading.check_ease_weights
    fails_with(check, ease("rows"), "divide each column j by P[j, j]")
    fails_with(check, ease("no identity"), "the identity minus P / diag(P)")
    fails_with(check, ease("no l2"), "l2 was ignored")
    fails_with(check, lambda x, l2: np.linalg.inv(x @ x.T + l2 * np.eye(len(x))), "not X X^T")


def interval(tails="right", drop_nan=True, seeded=True):
    def bootstrap_interval(values, confidence, n_resamples, seed):
        if drop_nan:
            values = values[~np.isnan(values)]
        rng = np.random.default_rng(seed if seeded else None)
        means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
        tail = (1 - confidence) * 100 if tails == "narrow" else (1 - confidence) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return (float(values.mean()), float(high), float(low)) if tails == "swapped" else (
            float(values.mean()), float(low), float(high))
    return bootstrap_interval


def test_bootstrap_interval_check():
    from textrec.grading.evaluation_lesson import reference_bootstrap_interval

    grading.check_bootstrap_interval(reference_bootstrap_interval)
    grading.check_bootstrap_interval(interval())
    check = grading.check_bootstrap_interval
    fails_with(check, interval(tails="narrow"), "cut (1 - confidence) / 2 off each tail")
    fails_with(check, interval(tails="swapped"), "low <= high")
    fails_with(check, interval(drop_nan=False), "drop the NaN values")
    fails_with(check, interval(seeded=False), "the same seed gave different intervals")
    fails_with(check, lambda v, c, n, s: (np.nanmean(v), 0.0, 1.0), "expected the interval")


def rank(kind):
    def target_rank(scores, target, candidates):
        others = scores[np.delete(np.arange(scores.size), target) if kind == "all" else candidates]
        higher, equal = np.sum(others > scores[target]), np.sum(others == scores[target])
        lower = np.sum(others < scores[target])
        return {"zero-based": higher + equal / 2, "ties full": 1 + higher + equal,
                "no ties": 1 + higher, "lower": 1 + lower + equal / 2,
                "all": 1 + higher + equal / 2}[kind]
    return target_rank


def test_target_rank_check():
    from textrec.grading.evaluation_lesson import reference_target_rank

    grading.check_target_rank(reference_target_rank)
    check = grading.check_target_rank
    fails_with(check, rank("zero-based"), "the best rank is 1")
    fails_with(check, rank("ties full"), "a tie should count half")
    fails_with(check, rank("no ties"), "ties were not counted")
    fails_with(check, rank("lower"), "a higher score ranks first")
    fails_with(check, rank("all"), "rank only among the candidates")
    fails_with(check, lambda s, t, c: np.array([1.0, 2.0]), "return one number")


# ----------------------------------------------- lesson 05: collaborative filtering, joint loss

def test_predict_ratings_check():
    from textrec.grading.joint_loss import reference_predict_ratings

    grading.check_predict_ratings(reference_predict_ratings)
    check = grading.check_predict_ratings
    fails_with(
        check, lambda mu, bu, bi, p, q: bu[:, None] + bi[None, :] + p @ q.T, "add the global mean"
    )
    fails_with(check, lambda mu, bu, bi, p, q: mu + p @ q.T + 0 * bu[:, None], "add the user bias")
    fails_with(
        check, lambda mu, bu, bi, p, q: mu + bu[:, None] + bi[None, :], "add the interaction"
    )
    fails_with(check, lambda mu, bu, bi, p, q: mu + bu + bi + p @ q.T, "could not be broadcast")


def joint(kind):
    def joint_loss(terms, weights):
        if kind == "times zero":
            return sum(weights[n] * np.mean(v) for n, v in terms.items())
        present = [n for n in terms if weights[n] != 0]
        if kind == "sum":
            return sum(weights[n] * np.sum(terms[n]) for n in present)
        if kind == "unweighted":
            return sum(np.mean(terms[n]) for n in present)
        return np.mean(np.concatenate([weights[n] * terms[n] for n in present]))  # "pooled"
    return joint_loss


def test_joint_loss_check():
    from textrec.grading.joint_loss import reference_joint_loss

    grading.check_joint_loss(reference_joint_loss)
    check = grading.check_joint_loss
    fails_with(check, joint("times zero"), "a term with weight 0 must not count at all")
    fails_with(check, joint("sum"), "not its sum")
    fails_with(check, joint("unweighted"), "multiply each term's mean by its weight")
    fails_with(check, joint("pooled"), "average each term on its own")
    every_term = lambda t, w: sum(w[n] * np.mean(t[n]) for n in ("text", "retrieval", "rating"))  # noqa: E731
    fails_with(check, every_term, "without review vectors")


def user_cf(kind):
    def user_cf_scores(vectors, liked, k):
        if kind == "dot":
            similarity = vectors @ vectors.T
        else:
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            similarity = unit @ unit.T
        if kind == "all":
            return similarity @ liked
        if kind != "self":
            np.fill_diagonal(similarity, -np.inf)
        top = np.argsort(-similarity, axis=1)[:, :k]
        weights = np.zeros_like(similarity)
        rows = np.arange(len(vectors))[:, None]
        weights[rows, top] = (
            similarity[rows, top] if kind == "negative" else np.maximum(similarity[rows, top], 0)
        )
        if kind == "normalised":
            sums = weights.sum(axis=1, keepdims=True)
            return np.divide(
                weights @ liked, sums, out=np.zeros((len(weights), liked.shape[1])), where=sums > 0
            )
        return weights @ liked
    return user_cf_scores


def test_user_cf_scores_check():
    from textrec.grading.joint_loss import reference_user_cf_scores

    grading.check_user_cf_scores(reference_user_cf_scores)
    grading.check_user_cf_scores(user_cf("right"))
    check = grading.check_user_cf_scores
    fails_with(check, user_cf("all"), "keep only each user's n_neighbours most similar")
    fails_with(check, user_cf("self"), "never their own neighbour")
    fails_with(check, user_cf("dot"), "not the dot product")
    fails_with(check, user_cf("normalised"), "do not divide by the sum of the similarities")
    fails_with(check, user_cf("negative"), "similarity above 0")


def ranking_mf(mistake=None):
    """ranking_mf_loss, right (None) or with one typical mistake."""
    def ranking_mf_loss(p, q, b, users, items, l2):
        pu, qi, bi = p[users], q[items], b[items]
        if mistake in ("batch", "distinct"):  # softmax over the batch's items only
            columns = items if mistake == "batch" else np.unique(items)
            scores = pu @ q[columns].T + b[columns]
            targets = (np.arange(len(items)) if mistake == "batch"
                       else np.searchsorted(columns, items))
        else:
            scores = pu @ q.T + (0.0 if mistake == "no bias" else b)
            targets = items
        if mistake == "naive":
            log_sum = np.log(np.exp(scores).sum(axis=1))
        else:
            top = scores.max(axis=1, keepdims=True)
            log_sum = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        cross_entropy = log_sum - scores[np.arange(len(items)), targets]
        penalty = {"no penalty": 0.0, "no bias penalty": np.sum(pu ** 2, 1) + np.sum(qi ** 2, 1),
                   "every item": np.sum(pu ** 2, 1) + np.sum(q ** 2) + np.sum(b ** 2)}.get(
            mistake, np.sum(pu ** 2, 1) + np.sum(qi ** 2, 1) + bi ** 2)
        losses = cross_entropy + l2 * penalty
        if mistake == "tables":  # the whole tables' penalty, once per batch
            return float(np.mean(cross_entropy) + l2 * (np.sum(p ** 2) + np.sum(q ** 2)
                                                        + np.sum(b ** 2)))
        if mistake == "per pair":
            return losses
        return float(np.sum(losses) if mistake == "sum" else np.mean(losses))
    return ranking_mf_loss


def test_ranking_mf_loss_check():
    from textrec.grading.joint_loss import RANKING_CASES, reference_ranking_mf_loss

    for *inputs, by_hand in RANKING_CASES:  # the package's model agrees with the hand values
        assert reference_ranking_mf_loss(*inputs) == pytest.approx(by_hand, rel=1e-6)
    check = grading.check_ranking_mf_loss
    check(reference_ranking_mf_loss)
    check(ranking_mf())
    fails_with(check, ranking_mf("no penalty"), "add the L2 penalty")
    fails_with(check, ranking_mf("every item"), "not on every item of the catalogue")
    fails_with(check, ranking_mf("no bias penalty"), "the penalty includes the item bias too")
    fails_with(check, ranking_mf("no bias"), "add the item bias b_j to every score")
    fails_with(check, ranking_mf("sum"), "take their mean over the batch")
    fails_with(check, ranking_mf("batch"), "the softmax runs over the whole catalogue")
    fails_with(check, ranking_mf("distinct"), "the softmax runs over the whole catalogue")
    fails_with(check, ranking_mf("per pair"), "return one number, the batch mean, got shape [2]")
    with np.errstate(over="ignore", invalid="ignore"):
        fails_with(check, ranking_mf("naive"), "example 2 (large scores): the loss is")
        fails_with(check, ranking_mf("naive"), "np.exp overflowed")
    fails_with(check, ranking_mf("tables"), "not on the whole tables")
    fails_with(check, lambda *args: None, "returned None")
    fails_with(check, lambda *args: float("nan"), "example 1: the loss is nan: it must be a finite")

    def changes_its_inputs(p, q, b, users, items, l2):
        loss = ranking_mf()(p, q, b, users, items, l2)
        p *= 0.0
        b += 5.0
        items[:] = 0
        return loss

    check(changes_its_inputs)  # each call gets copies: the expected values do not move


# ------------------------------------------------------------------- lesson 08: deployment

def test_frame_token_ids_check():
    from textrec.grading.deployment import reference_frame_token_ids

    check = grading.check_frame_token_ids
    check(reference_frame_token_ids)

    def without_truncation(pieces, max_length, cls_id, sep_id, pad_id):
        return reference_frame_token_ids(pieces, 10_000, cls_id, sep_id, pad_id)

    def padded_to_max_length(pieces, max_length, cls_id, sep_id, pad_id):
        ids, mask = reference_frame_token_ids(pieces, max_length, cls_id, sep_id, pad_id)
        extra = max_length - ids.shape[1]
        return np.pad(ids, ((0, 0), (0, extra))), np.pad(mask, ((0, 0), (0, extra)))

    def mask_without_specials(pieces, max_length, cls_id, sep_id, pad_id):
        ids, mask = reference_frame_token_ids(pieces, max_length, cls_id, sep_id, pad_id)
        return ids, mask * (ids != cls_id) * (ids != sep_id)

    fails_with(check, without_truncation, "cut each text to max_length - 2")
    fails_with(check, padded_to_max_length, "pad to the longest row of the batch")
    fails_with(check, mask_without_specials, "the mask is 1 for every real token")


def test_live_interest_vector_check():
    from textrec.grading.deployment import reference_live_interest_vector

    check = grading.check_live_interest_vector
    check(reference_live_interest_vector)

    def normalise_history_first(history, new):
        unit = history / np.linalg.norm(history) if np.linalg.norm(history) else history
        return reference_live_interest_vector(unit, new)

    def never_normalised(history, new):
        return np.asarray(history) + np.asarray(new).sum(axis=0)

    def nan_on_zero(history, new):
        total = np.asarray(history, float) + np.asarray(new, float).sum(axis=0)
        with np.errstate(invalid="ignore"):
            return total / np.linalg.norm(total)

    fails_with(check, normalise_history_first, "Add first, normalise once")
    fails_with(check, never_normalised, "scale the sum to unit length")
    fails_with(check, nan_on_zero, "not NaN")


def test_build_serving_module_check():
    import tensorflow as tf

    from textrec.text.pooling import mean_pool

    check = grading.check_build_serving_module

    def module_factory(signature=True, normalise=True, use_mask=True):
        def build(tokenizer, encoder, item_ids, item_embeddings):
            class Recommender(tf.Module):
                def __init__(self):
                    super().__init__()
                    self.tokenizer, self.encoder = tokenizer, encoder
                    self.item_ids = tf.Variable(item_ids, trainable=False)
                    self.items = tf.Variable(item_embeddings, trainable=False)

                def _recommend(self, text, k):
                    ids, mask = self.tokenizer(text)
                    hidden = self.encoder(
                        {"input_ids": ids, "attention_mask": mask}
                    ).last_hidden_state
                    pooled = mean_pool(hidden, mask if use_mask else tf.ones_like(mask))
                    vectors = tf.math.l2_normalize(pooled, axis=-1) if normalise else pooled
                    top = tf.math.top_k(tf.matmul(vectors, self.items, transpose_b=True), k=k)
                    return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

            spec = [tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32)]
            Recommender.recommend = tf.function(Recommender._recommend,
                                                input_signature=spec if signature else None)
            return Recommender()
        return build

    check(module_factory())
    fails_with(check, module_factory(signature=False), "input_signature")
    fails_with(check, module_factory(normalise=False), "scale each vector to unit length")
    fails_with(check, module_factory(use_mask=False), "over real tokens only")
    fails_with(check, lambda *args: object(), "return a tf.Module")
