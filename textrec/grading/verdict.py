"""Each task's verdict, computed in the grader's process from data the student's kernel returns.

After a submission's notebook has run, :func:`grade_in_kernel` installs
:mod:`textrec.grading.harness` in its kernel (as source text, under a random module name) and
runs each task's check **here**, with a stand-in for the learner's function (:class:`_Proxy`):
each call sends the grader's inputs into the kernel, the harness calls the learner's function
there (with the package's own implementation of the task blocked) and writes what it returned as
data, which :mod:`textrec.grading.wire` decodes. A task passes only when its check, in this
process, accepts every value.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from pathlib import Path

import numpy as np

from textrec.grading import references, wire
from textrec.grading.checking import CheckFailed, Task
from textrec.grading.results import TaskResult

TASK_PREFIX = re.compile(r"^Task \d+ \(\w+\):? (?:is )?")


class _KernelStopped(Exception):
    """The kernel died, or would not come back after an interrupt."""


class _CallTimedOut(Exception):
    pass


_HARNESS = Path(__file__).with_name("harness.py").read_text(encoding="utf-8")


async def _kernel_run(client, code: str, timeout: float):
    """Run ``code`` silently in the kernel; the execute reply. A call past ``timeout`` is
    interrupted (:class:`_CallTimedOut`); a kernel that is gone raises :class:`_KernelStopped`."""
    def run(source, limit):
        return client.kc.execute_interactive(source, silent=True, store_history=False,
                                             allow_stdin=False, timeout=limit,
                                             output_hook=lambda message: None)

    reply = asyncio.ensure_future(run(code, timeout))
    try:
        while True:  # a kernel that dies (os._exit in the function) is noticed within a second
            done, _ = await asyncio.wait({reply}, timeout=1)
            if done:
                return reply.result()
            if not await client.km.is_alive():
                reply.cancel()
                raise _KernelStopped("the kernel died")
    except TimeoutError:
        if not await client.km.is_alive():
            raise _KernelStopped("the kernel died") from None
        await client.km.interrupt_kernel()
        try:
            await run("pass", 30)
        except TimeoutError:
            raise _KernelStopped("the kernel did not respond after an interrupt") from None
        raise _CallTimedOut() from None


class _Proxy:
    """Stands in for the learner's function in this process: each call is sent to the kernel
    as data and what came back is decoded here (see :mod:`textrec.grading.wire`)."""

    def __init__(self, task: Task, call_kernel, folder: Path, budget: float):
        self.task, self.call_kernel, self.folder = task, call_kernel, folder
        self.locations = references.locations(references.references(task.lesson, task.number))
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.stopped: str | None = None

    def _fail(self, hint: str) -> CheckFailed:
        return CheckFailed(f"Task {self.task.number} ({self.task.function}): {hint}")

    def _request(self, calls: list[tuple]) -> list:
        task = self.task
        remaining = self.deadline - time.monotonic()
        if remaining < 1:
            raise self._fail(f"checking it took longer than the {self.budget:.0f} s limit")
        request = {"task": f"{task.lesson}:{task.number}", "function": task.function,
                   "calls": calls, "locations": self.locations, "folder": str(self.folder),
                   "signatures": ["recommend"] if task.function == "build_serving_module" else []}
        try:
            answer = self.call_kernel(request, remaining)
        except _CallTimedOut:
            raise self._fail(f"a call did not return within the {self.budget:.0f} s limit and "
                             "was interrupted (an endless loop?)") from None
        except _KernelStopped as stopped:
            self.stopped = f"{stopped} while task {task.number} was being checked"
            raise self._fail(f"{stopped} while it was being called") from None
        if answer.get("missing"):
            raise self._fail(f"no function named `{task.function}` after the notebook ran (did "
                             f"the cell that defines {task.function} run without an error?)")
        if answer.get("not_callable"):
            raise self._fail(f"`{task.function}` is a {answer['not_callable']}, not a function")
        values = []
        for out in answer["results"]:
            if out.get("blocked"):
                raise self._fail(
                    f"it calls the package's own {', '.join(out['blocked'])}, which is this "
                    "task's answer; while the grader checks the task, the package's version is "
                    "unavailable. Write the task yourself")
            if out.get("random_changed"):  # mirror the side effect for checks that look at it
                random.random()
                np.random.random()
            if "error" in out:
                if out.get("not_implemented"):
                    raise NotImplementedError(out["message"])
                raise wire.kernel_error(out["error"], out["message"])
            values.append(wire.decode(out["value"]))
        return values

    def __call__(self, *args):
        return self._request([args])[0]

    def textrec_batch(self, calls):
        return self._request([tuple(args) for args in calls])


def _judge(tasks: list[Task], call_kernel, folder: Path, budget: float) -> dict[int, TaskResult]:
    """Each task's verdict, computed in this process (runs in a worker thread)."""
    verdicts, stopped = {}, None
    for task in tasks:
        def fail(reason, task=task):
            return TaskResult(task.number, task.function, False, reason)

        if stopped:
            verdicts[task.number] = fail(f"not graded: {stopped}")
            continue
        proxy = _Proxy(task, call_kernel, folder, budget)
        try:
            task.evaluate(proxy)
            verdicts[task.number] = TaskResult(task.number, task.function, True, "pass")
        except CheckFailed as failure:
            verdicts[task.number] = fail(TASK_PREFIX.sub("", str(failure)))
        except Exception as error:  # noqa: BLE001 (a bug of the grader's, said plainly)
            verdicts[task.number] = fail(f"the grader could not check it: "
                                         f"{type(error).__name__}: {error}"[:400])
        stopped = proxy.stopped
    return verdicts


async def grade_in_kernel(client, tasks: list[Task], folder: Path, budget: float) -> dict:
    name = f"textrec_grader_{secrets.token_hex(8)}"
    install = (f"import sys as _textrec_sys, types as _textrec_types\n"
               f"_textrec_module = _textrec_types.ModuleType({name!r})\n"
               f"exec(compile({_HARNESS!r}, {name!r}, 'exec'), _textrec_module.__dict__)\n"
               "_textrec_module.USER_NS = globals()\n"
               f"_textrec_sys.modules[{name!r}] = _textrec_module\n"
               "del _textrec_sys, _textrec_types, _textrec_module\n")
    try:
        reply = await _kernel_run(client, install, 60)
        problem = None if reply["content"]["status"] == "ok" else (
            f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    except (_CallTimedOut, _KernelStopped) as error:
        problem = str(error) or "it did not answer"
    if problem:
        return {task.number: TaskResult(task.number, task.function, False,
                                        f"not graded: the grader could not reach the notebook's "
                                        f"functions after it ran ({problem})"[:400])
                for task in tasks}
    loop = asyncio.get_running_loop()
    count = iter(range(10**9))

    async def remote(request: dict, timeout: float) -> dict:
        number = next(count)
        asked, answer = folder / f"request-{number}.pkl", folder / f"answer-{number}.json"
        wire.dump_request(request, asked)
        code = f"__import__('sys').modules[{name!r}].serve({str(asked)!r}, {str(answer)!r})"
        reply = await _kernel_run(client, code, timeout)
        if reply["content"]["status"] != "ok" or not answer.exists():
            raise RuntimeError("the kernel did not answer the grader's request "
                               f"({reply['content'].get('ename')}: "
                               f"{reply['content'].get('evalue')})")
        return wire.read_response(answer)

    def call_kernel(request, timeout):
        return asyncio.run_coroutine_threadsafe(remote(request, timeout), loop).result()

    return await asyncio.to_thread(_judge, tasks, call_kernel, folder, budget)
