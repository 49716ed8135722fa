"""Every module, name and file the documentation and the docstrings point at exists.

Read without importing anything: `README.md`, `docs/**/*.md`, the bench's README and the
Markdown under `tests/` (inline code spans and relative links), and the docstrings of every
module, class and function under the code folders and `tests/` (code spans, and bare dotted
names or paths that start with one of the code folders).

- A dotted name (`app.store.projection`, `app.core.alert_rules.decide_alerts`) resolves when its
  longest prefix that is a module exists as a file and the next part, if any, is defined at the
  top of that module (a function, class, assignment or import). After a class defined there
  without base classes, the part after it must be a member of the class too; other attribute
  chains are not followed.
- A path (`app/store/projection.py:88`, `tests/unit/`, `docs/api.md`) resolves when it exists
  under the repository; only paths whose first folder is one of the repository's are checked,
  so a template name such as `chat/departed.md` or a URL path is left alone.
- Left alone as well: anything with a space, a glob or a placeholder (`*`, `<case>`, `{id}`),
  dotted names ending in a file extension (`notifications.yml`), Starlette's application
  state (`app.state`), and paths `.gitignore` leaves out (outputs such as bench results).
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.helpers import REPO_ROOT

CODE_FOLDERS = ("app", "workflows", "activities", "notifications", "bench", "tests")
# Folders a path may start with: the code, plus what the code and the docs refer to.
PATH_ROOTS = frozenset(
    {*CODE_FOLDERS, "docs", "deploy", ".ci"}
    | {entry.name for entry in REPO_ROOT.iterdir() if not entry.name.startswith(".")}
) - {"README.md"}
# Dotted names under a code folder that are attributes of an object, not modules.
NOT_MODULES = ("app.state",)  # Starlette's `app.state`
FILE_EXTENSIONS = frozenset(
    {"py", "md", "json", "yml", "yaml", "toml", "txt", "html", "cfg", "ini", "db", "sqlite"}
)
UNCHECKABLE = re.compile(r"[\s*?<>{}$|\\]|\.\.\.")
_ROOTS = "|".join(re.escape(folder) for folder in CODE_FOLDERS)
BARE_DOTTED = re.compile(rf"(?<![\w./-])(?:{_ROOTS})(?:\.[A-Za-z_]\w*)+")
BARE_PATH = re.compile(rf"(?<![\w./-])(?:{_ROOTS})/(?:[\w.-]+/)*[\w.-]*\w/?")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
LINE_SUFFIX = re.compile(r"(?::\d+(?:-\d+)?)+$")


@dataclass(frozen=True)
class Reference:
    source: Path
    line: int
    name: str
    base: Path = REPO_ROOT  # what a relative link is relative to

    def __str__(self) -> str:
        return f"{self.source.relative_to(REPO_ROOT)}:{self.line}: {self.name}"


# -- finding the references ----------------------------------------------------------------------


def markdown_files() -> list[Path]:
    found = [REPO_ROOT / "README.md", REPO_ROOT / "bench" / "README.md"]
    found += sorted((REPO_ROOT / "docs").rglob("*.md"))
    found += sorted((REPO_ROOT / "tests").rglob("*.md"))
    return [path for path in found if path.is_file()]


def python_files() -> list[Path]:
    return [
        path
        for folder in CODE_FOLDERS
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if "__pycache__" not in path.parts
    ]


def _line_of(text: str, offset: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, offset)


def in_markdown(path: Path) -> Iterator[Reference]:
    # Fenced blocks hold commands and output, not references; blank them, keeping line numbers.
    text = FENCED_BLOCK.sub(lambda block: "\n" * block.group(0).count("\n"), path.read_text())
    for span in CODE_SPAN.finditer(text):
        yield Reference(path, _line_of(text, span.start(), 1), span.group(1))
    for link in LINK.finditer(text):
        target = link.group(1).split("#", 1)[0]
        if target and not re.match(r"[a-z][a-z0-9+.-]*:", target):  # not a URL
            yield Reference(path, _line_of(text, link.start(), 1), target, base=path.parent)


def docstrings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Each docstring in the module, with the line its literal starts on. Only statements are
    visited (a docstring's owner is one), which is several times faster than `ast.walk`."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                yield first.lineno, first.value.value
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, block, None)
            if isinstance(children, list):
                pending.extend(children)


def in_docstrings(path: Path) -> Iterator[Reference]:
    for first_line, text in docstrings(ast.parse(path.read_text(), filename=str(path))):
        spans = [(m.start(), m.group(1)) for m in CODE_SPAN.finditer(text)]
        prose = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)
        bare = [(m.start(), m.group(0)) for m in BARE_DOTTED.finditer(prose)]
        bare += [(m.start(), m.group(0)) for m in BARE_PATH.finditer(prose)]
        for offset, name in spans + bare:
            yield Reference(path, _line_of(text, offset, first_line), name)


# -- resolving them ------------------------------------------------------------------------------


@cache
def module_file(dotted: str) -> Path | None:
    base = REPO_ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def defined_names(body_owner: Path | tuple[Path, str]) -> frozenset[str] | None:
    """The names a module defines at its top (or, given `(module, class)`, the members of a class
    defined there without base classes); None when they cannot be known."""
    path, class_name = body_owner if isinstance(body_owner, tuple) else (body_owner, None)
    tree = ast.parse(path.read_text(), filename=str(path))
    body: list[ast.stmt] = tree.body
    if class_name is not None:
        found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
        if not found or found[0].bases:
            return None
        body = found[0].body
    names: set[str] = set()
    for node in _flatten(body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    if class_name is not None:  # attributes set in methods: `self.name = ...`
        for part in ast.walk(ast.Module(body=body, type_ignores=[])):
            if (
                isinstance(part, ast.Attribute)
                and isinstance(part.ctx, ast.Store)
                and isinstance(part.value, ast.Name)
                and part.value.id == "self"
            ):
                names.add(part.attr)
    return frozenset(names)


def _flatten(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements at the top of `body`, including those inside `if`, `try` and `with`."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                yield from _flatten(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _flatten(handler.body)


def dotted_exists(name: str) -> bool:
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module = module_file(".".join(parts[:split]))
        if module is not None:
            break
    else:
        return False
    rest = parts[split:]
    if not rest:
        return True
    names = defined_names(module)
    if names is None or rest[0] not in names:
        return False
    if len(rest) > 1:
        members = defined_names((module, rest[0]))
        return members is None or rest[1] in members
    return True


def path_exists(name: str, base: Path) -> bool:
    return (base / name).exists() or (REPO_ROOT / name).exists()


@cache
def ignored_patterns() -> tuple[str, ...]:
    gitignore = REPO_ROOT / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.is_file() else []
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def git_ignored(name: str) -> bool:
    """Whether `.gitignore` leaves `name` (relative to the repository) out: something made by
    running the project, which need not exist."""
    parts = name.strip("/").split("/")
    for pattern in ignored_patterns():
        anchored, bare = pattern.startswith("/"), pattern.strip("/")
        for index, part in enumerate(parts):
            if fnmatch.fnmatch("/".join(parts[: index + 1]) if anchored else part, bare):
                return True
    return False


def problem(reference: Reference) -> bool:
    """Whether `reference` names a module, name or path that should exist and does not."""
    name = reference.name.strip().rstrip(".,;:")
    if UNCHECKABLE.search(name) or "://" in name or name.startswith(("/", "~")):
        return False
    name = LINE_SUFFIX.sub("", name.split("::", 1)[0])
    if name.endswith("()"):
        name = name[:-2]
    if "/" in name or reference.base != REPO_ROOT:
        first = name.split("/", 1)[0]
        if reference.base == REPO_ROOT and (first not in PATH_ROOTS or git_ignored(name)):
            return False
        return not path_exists(name, reference.base)
    name = name.replace(":", ".")
    if not re.fullmatch(rf"(?:{_ROOTS})(?:\.[A-Za-z_]\w*)+", name):
        return False
    if name.rsplit(".", 1)[1] in FILE_EXTENSIONS:
        return False
    if any(name == prefix or name.startswith(prefix + ".") for prefix in NOT_MODULES):
        return False
    return not dotted_exists(name)


def _report(broken: list[Reference]) -> str:
    return f"{len(broken)} references to nothing:\n" + "\n".join(f"  {r}" for r in broken)


# -- the tests -----------------------------------------------------------------------------------


def test_every_module_and_path_the_markdown_names_exists() -> None:
    broken = [r for path in markdown_files() for r in in_markdown(path) if problem(r)]
    assert not broken, _report(broken)


def test_every_module_and_path_a_docstring_names_exists() -> None:
    broken = [r for path in python_files() for r in in_docstrings(path) if problem(r)]
    assert not broken, _report(broken)


def test_the_check_tells_a_stale_reference_from_a_live_one() -> None:
    here = REPO_ROOT / "tests" / "unit" / "test_references.py"

    def ok(name: str) -> bool:
        return not problem(Reference(here, 1, name))

    for live in (
        "app.store.projection",
        "app.store.projection.apply_event",
        "app.store.projection.apply_event()",
        "tests.helpers.eventually",
        "tests.integration.harness.Stack.deliver",
        "app/store/projection.py:12",
        "tests/unit/",
        "notifications.yml",
        "app.state.dashboard",
        "chat/departed.md",
        "app/samples/*.json",
        "GET /api/recipients",
        "bench/results/latest.json",
    ):
        assert ok(live), live
    for stale in (
        "app.records",
        "app.store.projection.no_such_thing",
        "tests.integration.harness.Stack.no_such_method",
        "app/no_such_file.py",
    ):
        assert not ok(stale), stale
