"""Reading a hand-in and extracting its definitions, without running anything.

A hand-in is a notebook (``.ipynb``), a script (``.py``, jupytext percent or
plain), or a folder / zip holding one. From its code cells we keep imports,
function and class definitions, and the simple constant assignments that those
definitions use. Top-level calls -- the course notebooks call their test
functions and launch hour-long training runs at top level -- are never kept,
and neither are IPython magics or shell escapes.

Each kept cell keeps its line numbers, so the worker's tracebacks point at the
student's own cell and line.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import logging
import re
import symtable
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from ._exceptions import SubmissionError

__all__ = ["Cell", "Extraction", "extract", "read_cells", "resolve_submission"]

log = logging.getLogger(__name__)

#: calls allowed in a kept constant assignment, as fully qualified names (fnmatch
#: patterns) once the notebook's import aliases are resolved
#: (``T.ToTensor`` -> ``torchvision.transforms.ToTensor``)
SAFE_CALLS = (
    "torch.device",
    "torch.cuda.is_available",
    "torch.backends.mps.is_available",
    "torch.tensor",
    "torch.Tensor",
    "torch.float*",
    "torch.arange",
    "torch.linspace",
    "torchvision.transforms.*",
    "os.path.*",
    "os.getcwd",
    "pathlib.Path",
    "dict",
    "list",
    "tuple",
    "set",
    "range",
    "int",
    "float",
    "str",
    "bool",
    "len",
    "numpy.array",
    "numpy.arange",
    "numpy.linspace",
    "numpy.float*",
    "torch.nn.*Loss",
    "torch.nn.ReLU",
    "torch.nn.GELU",
    "torch.nn.Identity",
)
_CELL_MAGICS_KEEP_BODY = {"time", "timeit", "capture", "prun"}
_MAX_ZIP_BYTES = 200 * 1024 * 1024
_DEF_RE = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.M)


@dataclass
class Cell:
    index: int  # position among the notebook's cells
    source: str


@dataclass
class Extraction:
    """What the worker will execute, and what the student should hear about it."""

    cells: list[dict[str, str]]  # {"name", "source" (kept lines), "original"}
    defined: dict[str, list[int]]  # name -> cells that define it (last one wins)
    notes: list[str] = field(default_factory=list)
    sha256: str = ""


# ---------------------------------------------------------------- reading files


def resolve_submission(path: Path, preferred_name: str | None = None) -> Path:
    """The one notebook or script inside a folder or zip (zips are unpacked safely)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(
            f"{path} does not exist", hint="check the path of the hand-in"
        )
    if path.is_file() and path.suffix.lower() == ".zip":
        raise SubmissionError(f"{path.name} is a zip: use extract(), which unpacks it")
    if path.is_dir():
        found = sorted(
            p
            for p in path.rglob("*")
            if p.suffix in (".ipynb", ".py")
            and p.is_file()
            and ".ipynb_checkpoints" not in p.parts
            and "__MACOSX" not in p.parts
            and p.name != "utils.py"
        )
        notebooks = [p for p in found if p.suffix == ".ipynb"] or found
        if preferred_name:
            named = [p for p in notebooks if p.name == preferred_name]
            if len(named) == 1:
                return named[0]
        if len(notebooks) == 1:
            return notebooks[0]
        if not notebooks:
            raise SubmissionError(
                f"{path} holds no .ipynb or .py file",
                hint="hand in the notebook you worked in",
            )
        names = ", ".join(str(p.relative_to(path)) for p in notebooks[:8])
        raise SubmissionError(
            f"{path.name} holds several notebooks ({names})",
            hint=f"hand in exactly one, ideally named {preferred_name}",
        )
    if path.suffix.lower() not in (".ipynb", ".py"):
        raise SubmissionError(
            f"{path.name}: unsupported file type",
            hint="hand in a .ipynb notebook, a .py script, or a zip of one",
        )
    return path


def _unzip(path: Path, target: Path) -> Path:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SubmissionError(f"{path.name} is not a valid zip file") from exc
    total = sum(info.file_size for info in archive.infolist())
    if total > _MAX_ZIP_BYTES:
        raise SubmissionError(
            f"{path.name} unpacks to {total} bytes, more than allowed"
        )
    target = (target / path.stem).resolve()
    target.mkdir()
    with archive:
        for info in archive.infolist():
            dest = (target / info.filename).resolve()
            if not dest.is_relative_to(target):
                raise SubmissionError(
                    f"{path.name} contains an unsafe path {info.filename!r}"
                )
            if info.is_dir() or not info.filename.endswith((".ipynb", ".py")):
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(archive.read(info))
    return target


def read_cells(path: Path) -> tuple[list[Cell], list[str]]:
    """Code cells of a notebook or script, and notes about what was odd in the file."""
    notes: list[str] = []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        notes.append(f"{path.name} is not valid UTF-8; undecodable bytes were replaced")
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.reads(text, as_version=4)
        except (ValueError, nbformat.reader.NotJSONError) as exc:
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise SubmissionError(
                f"{path.name} is not a readable notebook ({detail})",
                hint="open it in Jupyter, save it again, and re-submit",
            ) from exc
        except Exception as exc:  # nbformat raises various schema errors
            raise SubmissionError(
                f"{path.name} is not a readable notebook: {exc}"[:300]
            ) from exc
        cells = []
        for i, c in enumerate(nb.cells):
            source = c.get("source", "")
            if c.get("cell_type") != "code":
                continue
            if not isinstance(source, str | list):
                kind = type(source).__name__
                notes.append(
                    f"cell[{i}] has a malformed source ({kind}); it was skipped"
                )
                continue
            cells.append(Cell(i, _cell_text(source)))
    else:
        nb = jupytext.reads(text, fmt="py:percent" if "# %%" in text else "py:light")
        cells = [
            Cell(i, _cell_text(c.source))
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
        ]
    return cells, notes


def _cell_text(source: Any) -> str:
    text = "".join(map(str, source)) if isinstance(source, list) else str(source)
    # ast counts a lone CR as a line break: normalise so line numbers agree
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- IPython syntax


def strip_ipython(source: str) -> str | None:
    """IPython syntax (magics, ``!`` shell escapes, ``?`` help) turned into plain
    ``get_ipython()`` calls by IPython's own transformer, which the definition filter
    then drops; line numbers are kept. None for a cell in another language
    (``%%bash``, ``%%writefile`` ...)."""
    from IPython.core.inputtransformer2 import TransformerManager, leading_empty_lines

    lines = source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split()[0] if first[2:].split() else ""
        if magic not in _CELL_MAGICS_KEEP_BODY:
            return None
        source = "\n" + "\n".join(lines[1:])  # the body is Python: keep it
    try:
        manager = TransformerManager()
        # keep leading blank lines: line numbers must match the student's cell
        manager.cleanup_transforms = [
            t for t in manager.cleanup_transforms if t is not leading_empty_lines
        ]
        out: str = manager.transform_cell(source)
    except (SyntaxError, ValueError, IndexError):
        return source  # the parser will report the syntax error for this cell
    if out.endswith("\n") and not source.endswith("\n"):
        out = out[:-1]
    return out


# ---------------------------------------------------------------- AST selection


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return "?"


@dataclass
class _Names:
    """Import aliases of the notebook and the names it binds itself."""

    aliases: dict[str, str] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)

    def qualified(self, dotted: str) -> str | None:
        """``T.ToTensor`` -> ``torchvision.transforms.ToTensor``; None for a name the
        notebook rebinds itself (``list = my_function`` must not pass as ``list``)."""
        head, _, rest = dotted.partition(".")
        if head in self.bound:
            return None
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full


def _collect_names(trees: list[ast.Module]) -> _Names:
    names = _Names()
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        names.aliases[a.asname] = a.name
                    else:
                        head = a.name.split(".")[0]
                        names.aliases[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    names.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            ):
                names.bound.add(node.name)
            else:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        names.bound.add(sub.id)
    return names


def _is_constant_expr(node: ast.AST, names: _Names) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = names.qualified(_dotted(sub.func))
            if name is None or not any(
                fnmatch.fnmatchcase(name, p) for p in SAFE_CALLS
            ):
                return False
        if isinstance(
            sub, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom
        ):
            return False
    return True


def _assigned_names(node: ast.stmt) -> list[str] | None:
    targets: list[ast.expr]
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    else:
        return None
    names: list[str] = []
    for target in targets:
        elts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
        for elt in elts:
            if not isinstance(elt, ast.Name):
                return None
            names.append(elt.id)
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _global_refs(node: ast.stmt) -> set[str]:
    """Module-level names a definition refers to (its parameters and locals
    excluded)."""
    try:
        table = symtable.symtable(ast.unparse(node), "<definition>", "exec")
    except SyntaxError:
        return _used_names(node)
    names: set[str] = set()
    stack = [table]
    while stack:
        scope = stack.pop()
        for sym in scope.get_symbols():
            if sym.is_referenced() and (
                scope.get_type() == "module" or sym.is_global()
            ):
                names.add(sym.get_name())
        stack.extend(scope.get_children())
    return names


def _is_import_guard(node: ast.stmt, names: _Names) -> bool:
    """``try: import x`` / ``except ImportError: ...`` blocks made only of imports."""
    if not isinstance(node, ast.Try):
        return False
    body = node.body + [s for h in node.handlers for s in h.body] + node.orelse
    return all(
        isinstance(s, ast.Import | ast.ImportFrom | ast.Pass)
        or (_assigned_names(s) is not None and _is_constant_expr(s))
        for s in body
    )


def extract(path: Path, preferred_name: str | None = None) -> Extraction:
    """Read a hand-in and select the statements the worker may execute."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="rlgrade-zip-") as tmp:
            return extract(_unzip(path, Path(tmp)), preferred_name)
    file = resolve_submission(path, preferred_name)
    cells, notes = read_cells(file)
    sha = hashlib.sha256(file.read_bytes()).hexdigest()

    parsed: list[tuple[Cell, str, ast.Module]] = []
    for cell in cells:
        label = f"cell[{cell.index}]"
        python = strip_ipython(cell.source)
        if python is None:
            continue
        try:
            tree = ast.parse(python)
        except SyntaxError as exc:
            lost = ", ".join(_DEF_RE.findall(python)) or "no definitions"
            notes.append(
                f"{label} has a syntax error at line {exc.lineno}: {exc.msg}; "
                f"it was skipped ({lost} from it are missing)"
            )
            continue
        parsed.append((cell, python, tree))

    names = _collect_names([tree for _, _, tree in parsed])
    # definitions first, then constants that definitions (or other constants) use
    defined: dict[str, list[int]] = {}
    keep: dict[int, set[int]] = {}
    constants: list[tuple[int, int, ast.stmt, list[str]]] = []
    needed: set[str] = set()
    for pos, (cell, _, tree) in enumerate(parsed):
        keep[pos] = set()
        for i, node in enumerate(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                keep[pos].add(i)
                defined.setdefault(node.name, []).append(cell.index)
                needed |= _global_refs(node)
            elif isinstance(node, ast.Import | ast.ImportFrom) or _is_import_guard(
                node, names
            ):
                keep[pos].add(i)
            else:
                targets = _assigned_names(node)
                if targets is not None and _is_constant_expr(node, names):
                    constants.append((pos, i, node, targets))
    changed = True
    while changed:
        changed = False
        for pos, i, node, targets in constants:
            if i not in keep[pos] and needed.intersection(targets):
                keep[pos].add(i)
                needed |= _used_names(node)
                changed = True

    kept_cells = []
    for pos, (cell, python, tree) in enumerate(parsed):
        if not keep[pos]:
            continue
        kept_cells.append(
            {
                "name": f"cell[{cell.index}]",
                "source": _blank_except(python, tree, keep[pos]),
                "original": cell.source,
            }
        )
    for name, where in defined.items():
        if len(where) > 1:
            cells_txt = ", ".join(str(w) for w in where)
            notes.append(
                f"'{name}' is defined in cells {cells_txt}; "
                f"the last one (cell {where[-1]}) is graded"
            )
    return Extraction(cells=kept_cells, defined=defined, notes=notes, sha256=sha)


def _blank_except(source: str, tree: ast.Module, keep: set[int]) -> str:
    """The cell with every top-level statement not in ``keep`` replaced by blank
    lines."""
    lines = source.split("\n")
    mask = [False] * len(lines)
    for i, node in enumerate(tree.body):
        if i not in keep:
            continue
        start = min(
            [node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]
        )
        for ln in range(start, (node.end_lineno or node.lineno) + 1):
            mask[ln - 1] = True
    # a line shared with a dropped statement (``a = 1; train()``) is dropped whole
    for i, node in enumerate(tree.body):
        if i in keep:
            continue
        for ln in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            mask[ln - 1] = False
    return "\n".join(line if m else "" for line, m in zip(lines, mask, strict=True))
