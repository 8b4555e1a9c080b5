"""Mutation testing of the critical modules: one deliberate bug at a time, the tests run.

``python -m bench.mutation [--module db/sealed.py ...] [--jobs 2] [--list]`` reads
``bench/mutation.toml`` (modules, the functions mutated, the tests run, the named
mutants of issue 20) and ``bench/mutation-equivalents.toml`` (mutants no test can
tell apart from the original, each explained; left out of the score). Each mutant
is written into a private copy of the repository and the module's tests run there
with ``pytest -x``; a failing, erroring or timed-out run kills it. The tests use one
embedded PostgreSQL started here (a database per worker) through
``ANTT_TEST_DATABASE_URL``. Survivors are printed as diffs; the last stdout line is
``{"mutants": ..., "killed": ..., "survived": ..., "score": ..., "target": 0.9}``.

Why not mutmut (3.x, the version on the package index): it mutates whole files, and
the critical code sits in a few functions of larger modules (the scope checks of
``handlers/triage.py``, the choice parser of ``handlers/flow.py``), whose translated
messages would give hundreds of string mutants that say nothing about security;
limiting it means ``# pragma: no mutate`` comments across shared modules. Its
trampolines also skip decorated functions (``_derive``). This runner takes the same
mutation operators (comparisons, boolean and arithmetic operators, constants, strings
outside messages and logs, ``min``/``max``, returns, call arguments, caught exception
types) to a chosen list of functions.

Slow by nature (tens of minutes on two cores); run it on demand, never in CI.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_name("mutation.toml")
EQUIVALENTS = Path(__file__).with_name("mutation-equivalents.toml")
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".antt*", "__pycache__", "*.egg-info", "node_modules", "build"
)
QUIET_CALLS = {"_", "ngettext", "pgettext", "debug", "info", "warning", "error", "exception"}

COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
NAME_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}


@dataclass(frozen=True)
class Mutant:
    module: str
    key: str  # stable: "function|operator|what|n"
    source: str  # the whole mutated module

    def diff(self, original: str) -> str:
        lines = difflib.unified_diff(
            _normal(original).splitlines(), self.source.splitlines(), lineterm="", n=1
        )
        return "\n".join(list(lines)[2:])


def _normal(source: str) -> str:
    return ast.unparse(ast.parse(source))


# --- generating mutants ----------------------------------------------------------------


def _targets(tree: ast.Module, wanted: list[str]) -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) of each function named in ``wanted`` ("*": the whole module)."""
    if wanted == ["*"]:
        yield "*", tree
        return

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                if name in wanted:
                    yield name, child

    found = dict(walk(tree, ""))
    missing = [w for w in wanted if w not in found]
    if missing:
        raise SystemExit(f"bench.mutation: no such function(s): {missing}")
    yield from ((w, found[w]) for w in wanted)


def _quiet_nodes(root: ast.AST) -> set[int]:
    """Ids of nodes not worth mutating: messages, logs, docstrings, annotations, decorators."""
    quiet: set[int] = set()

    def mark(node: ast.AST) -> None:
        quiet.update(id(n) for n in ast.walk(node))

    for node in ast.walk(root):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in QUIET_CALLS:
                mark(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            mark(node)  # docstrings
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                mark(deco)
            if node.returns is not None:
                mark(node.returns)
            for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                if arg.annotation is not None:
                    mark(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        elif isinstance(node, ast.ClassDef):
            for part in [*node.bases, *node.decorator_list]:
                mark(part)
    return quiet


Change = tuple[str, str, Callable[[ast.AST], ast.AST | None]]


def _changes(node: ast.AST) -> list[Change]:
    """(operator, what, replace) alternatives for one node; replace returns the new node."""
    out: list[Change] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = COMPARE_SWAPS.get(type(op))
            if swap is not None:

                def cmp(n: ast.AST, i: int = i, swap: type[ast.cmpop] = swap) -> ast.AST:
                    assert isinstance(n, ast.Compare)
                    n.ops[i] = swap()
                    return n

                out.append(("compare", f"{type(op).__name__}->{swap.__name__}", cmp))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And

        def boolop(n: ast.AST, other: type[ast.boolop] = other) -> ast.AST:
            assert isinstance(n, ast.BoolOp)
            n.op = other()
            return n

        out.append(("boolop", f"{type(node.op).__name__}->{other.__name__}", boolop))
    elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
        swap_b = BINOP_SWAPS[type(node.op)]

        def binop(n: ast.AST, swap: type[ast.operator] = swap_b) -> ast.AST:
            assert isinstance(n, ast.BinOp)
            n.op = swap()
            return n

        out.append(("binop", f"{type(node.op).__name__}->{swap_b.__name__}", binop))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        out.append(("unary", f"drop {type(node.op).__name__}", lambda n: n.operand))  # type: ignore[attr-defined]
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            out.append(("const", f"{value}->{not value}", lambda n: ast.Constant(not value)))
        elif isinstance(value, int | float):
            out.append(("const", f"{value}->{value + 1}", lambda n: ast.Constant(value + 1)))
        elif isinstance(value, str):
            out.append(("string", repr(value)[:40], lambda n: ast.Constant(f"XX{value}XX")))
        elif isinstance(value, bytes):
            out.append(("bytes", repr(value)[:40], lambda n: ast.Constant(b"XX" + value + b"XX")))
    elif isinstance(node, ast.Name) and node.id in NAME_SWAPS:
        new = NAME_SWAPS[node.id]
        out.append(("name", f"{node.id}->{new}", lambda n: ast.Name(new, ast.Load())))
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append(("return", "value->None", lambda n: ast.Return(ast.Constant(None))))
    elif isinstance(node, ast.Call):
        for i, _arg in enumerate(node.args):
            if isinstance(_arg, ast.Starred):
                continue

            def arg_none(n: ast.AST, i: int = i) -> ast.AST:
                assert isinstance(n, ast.Call)
                n.args[i] = ast.Constant(None)
                return n

            out.append(("call-arg", f"arg {i}->None", arg_none))
    elif isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
        for i, elt in enumerate(node.type.elts):

            def drop(n: ast.AST, i: int = i) -> ast.AST:
                assert isinstance(n, ast.ExceptHandler) and isinstance(n.type, ast.Tuple)
                del n.type.elts[i]
                return n

            out.append(("except", f"drop {ast.unparse(elt)}", drop))
    elif isinstance(node, ast.Break | ast.Continue):
        other_s = ast.Continue if isinstance(node, ast.Break) else ast.Break
        out.append(("loop", f"{type(node).__name__}->{other_s.__name__}", lambda n: other_s()))
    return out


def _replace(tree: ast.AST, target: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = new
                        return
    raise AssertionError("node not found")


def _sites(tree: ast.Module, functions: list[str]) -> Iterator[tuple[str, int, ast.AST]]:
    """(function, position in the walk, node) of every mutable node, in a fixed order."""
    for name, root in _targets(tree, functions):
        quiet = _quiet_nodes(root)
        for pos, node in enumerate(ast.walk(root)):
            if id(node) not in quiet:
                yield name, pos, node


def generated(
    module: str, source: str, functions: list[str], skip: frozenset[str] = frozenset()
) -> Iterator[Mutant]:
    seen: dict[str, int] = {}
    for name, pos, node in _sites(ast.parse(source), functions):
        for index, (op, what, _) in enumerate(_changes(node)):
            if op in skip:
                continue
            base = f"{name}|{op}|{what}"
            n = seen[base] = seen.get(base, -1) + 1
            tree = ast.parse(source)
            site = next(nd for nm, p, nd in _sites(tree, functions) if nm == name and p == pos)
            change = _changes(site)[index][2]
            new = change(copy.copy(site) if isinstance(site, ast.Return) else site)
            if new is not site:
                _replace(tree, site, ast.copy_location(new, site) if new else new)  # type: ignore[arg-type]
            mutated = ast.unparse(ast.fix_missing_locations(tree))
            if mutated != _normal(source):
                yield Mutant(module, f"{base}|{n}", mutated)


def named(module: str, source: str, specs: list[dict[str, object]]) -> Iterator[Mutant]:
    for spec in specs:
        text = source
        for raw_old, raw_new in spec["replace"]:  # type: ignore[attr-defined]
            old, new = raw_old.replace("\\n", "\n"), raw_new.replace("\\n", "\n")
            if text.count(old) != 1:
                raise SystemExit(f"bench.mutation: {module}: {old!r} is not found exactly once")
            text = text.replace(old, new)
        yield Mutant(module, f"named|{spec['name']}", _normal(text))


# --- running them -------------------------------------------------------------------------


class Workers:
    """Private copies of the repository, each with its own database."""

    def __init__(self, jobs: int, urls: list[str]) -> None:
        self.free: list[tuple[Path, str]] = []
        self.lock = threading.Lock()
        self.base = Path(tempfile.mkdtemp(prefix="antt-mutation-"))
        for i in range(jobs):
            copy_dir = self.base / f"w{i}"
            shutil.copytree(ROOT, copy_dir, ignore=COPY_IGNORE)
            self.free.append((copy_dir, urls[i]))

    def take(self) -> tuple[Path, str]:
        with self.lock:
            return self.free.pop()

    def give(self, worker: tuple[Path, str]) -> None:
        with self.lock:
            self.free.append(worker)

    def cleanup(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def run_tests(copy_dir: Path, url: str, tests: list[str], timeout: float) -> tuple[int, float]:
    """Exit code of pytest on ``tests`` in ``copy_dir`` (-9 on timeout) and seconds taken."""
    env = {**os.environ, "ANTT_TEST_DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=copy_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )
        code = done.returncode
    except subprocess.TimeoutExpired:
        code = -9
    return code, time.monotonic() - started


def test_mutant(workers: Workers, mutant: Mutant, tests: list[str], timeout: float) -> bool:
    """True when the tests kill ``mutant``."""
    worker = workers.take()
    path = worker[0] / mutant.module
    original = path.read_text()
    try:
        path.write_text(mutant.source)
        code, _ = run_tests(worker[0], worker[1], tests, timeout)
    finally:
        path.write_text(original)
        workers.give(worker)
    return code != 0


def start_databases(jobs: int) -> tuple[object, Path | None, list[str]]:
    """One embedded PostgreSQL (or ANTT_TEST_DATABASE_URL's server), a database per worker."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    external = os.environ.get("ANTT_TEST_DATABASE_URL")
    server = None
    data: Path | None = None
    if external:
        url = external
    else:
        from db.embedded import embedded_url, start_embedded

        data = Path(tempfile.mkdtemp(prefix="antt-mutation-pg-"))
        server = start_embedded(data)
        url = embedded_url(server)
    base, _, query = url.partition("?")
    names = [f"antt_mutation_{i}" for i in range(jobs)]

    async def create() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            for name in names:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                await conn.execute(text(f"CREATE DATABASE {name}"))
        await engine.dispose()

    asyncio.run(create())
    root = base.rsplit("/", 1)[0]
    return server, data, [f"{root}/{n}" + (f"?{query}" if query else "") for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="only this module (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args(argv)

    config = tomllib.loads(CONFIG.read_text())
    equivalents = {
        (e["module"], e["key"]): e["why"]
        for e in tomllib.loads(EQUIVALENTS.read_text()).get("equivalent", [])
    }
    modules: dict[str, dict[str, Any]] = config["modules"]
    chosen = args.module or list(modules)
    plan: list[tuple[Mutant, list[str]]] = []
    for module in chosen:
        spec = modules[module]
        source = (ROOT / module).read_text()
        mutants = [
            *generated(
                module,
                source,
                spec["functions"],
                frozenset(spec.get("skip_operators", [])),
            ),
            *named(module, source, spec.get("named", [])),
        ]
        for m in mutants:
            if (module, m.key) not in equivalents:
                plan.append((m, spec["tests"]))  # type: ignore[arg-type]
        keys = {m.key for m in mutants}
        for mod, key in equivalents:
            if mod == module and key not in keys:
                print(f"warning: {EQUIVALENTS.name} names no mutant {module} {key}", flush=True)
        print(f"{module}: {len(mutants)} mutants", flush=True)
    if args.list:
        for m, _ in plan:
            print(m.module, m.key)
        return 0

    server, data_dir, urls = start_databases(args.jobs)
    workers = Workers(args.jobs, urls)
    results: dict[str, dict[str, int]] = {}
    survivors: list[Mutant] = []
    try:
        baselines: dict[str, float] = {}
        for module in chosen:  # the tests must pass unmutated
            tests = modules[module]["tests"]
            worker = workers.take()
            code, seconds = run_tests(worker[0], worker[1], tests, 1800)  # type: ignore[arg-type]
            workers.give(worker)
            if code != 0:
                raise SystemExit(f"bench.mutation: the tests of {module} fail without a mutant")
            baselines[module] = seconds
            print(f"{module}: tests pass unmutated in {seconds:.1f} s", flush=True)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {
                pool.submit(test_mutant, workers, m, tests, max(20.0, 5 * baselines[m.module])): m
                for m, tests in plan
            }
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                m = futures[future]
                killed = future.result()
                tally = results.setdefault(m.module, {"mutants": 0, "killed": 0})
                tally["mutants"] += 1
                tally["killed"] += killed
                if not killed:
                    survivors.append(m)
                print(
                    f"[{done}/{len(plan)}] {'killed ' if killed else 'SURVIVED'} "
                    f"{m.module} {m.key}",
                    flush=True,
                )
    finally:
        workers.cleanup()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)

    for m in survivors:
        print(f"\n--- survived: {m.module} {m.key}")
        print(m.diff((ROOT / m.module).read_text()))
    print()
    for module, tally in results.items():
        score = tally["killed"] / tally["mutants"] if tally["mutants"] else 1.0
        print(f"{module}: {tally['killed']}/{tally['mutants']} killed, score {score:.3f}")
    skipped = sum(1 for (mod, _) in equivalents if mod in chosen)
    print(f"equivalent mutants left out (see {EQUIVALENTS.name}): {skipped}")
    total = sum(t["mutants"] for t in results.values())
    dead = sum(t["killed"] for t in results.values())
    score = round(dead / total, 4) if total else 1.0
    target = float(config["target"])
    print(
        json.dumps(
            {
                "mutants": total,
                "killed": dead,
                "survived": total - dead,
                "score": score,
                "target": target,
            }
        )
    )
    return 0 if score >= target else 1


if __name__ == "__main__":
    raise SystemExit(main())
