"""The docs and the code agree: docs/rest-api.md, the OpenAPI document and the JupyterLab client against the handlers.

What is compared, and where each side comes from:

* routes and methods: ``handlers.ROUTES`` (each route's regex as a path template, e.g. ``runs/{run_id}``; the
  methods its handler class defines) against the code spans ``METHOD path?…`` of docs/rest-api.md and the
  ``paths`` of ``openapi.document()`` — both ways;
* query parameters: read from handlers.py with :mod:`ast` (``self.str_arg("x")``, ``self.int_arg("x", …)``,
  ``self.get_query_argument("x", …)`` in each handler method and the methods it calls) against the ``x=`` of the
  docs' ``METHOD path?x=&y=`` spans and the operation's ``in: query`` parameters — both ways; a parameter is
  required when the method raises on ``x is None`` (or reads it without a default), and OpenAPI must say
  ``required: true`` exactly then; a server started by pytest-jupyter confirms those flags at run time;
* the batch: ``core.batch.SECTIONS`` and ``ITEM_FIELDS`` against the batch block of the docs and the ``Batch``
  schema of OpenAPI;
* ``labextension/src/api.ts``: every path it builds must match a route;
* the OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator), and a batch filling every field is valid
  against its schema and written by the server.

Each check is a function returning a list of problems, so that :func:`test_the_checks_catch_mutations` can show
each one failing on a deliberately broken copy.
"""

from __future__ import annotations

import ast
import copy
import inspect
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from jupyter_mltrack.core import batch as B
from jupyter_mltrack.server import handlers as H
from jupyter_mltrack.server import lifecycle as LC
from jupyter_mltrack.server import jobs as JB
from jupyter_mltrack.server import team as T
from jupyter_mltrack.server import describe as DS
from jupyter_mltrack.server import serving as SV
from jupyter_mltrack.server import figures as FG
from jupyter_mltrack.server import ab as AB

#: The modules whose handler classes serve routes (the team workspace's and the model lifecycle's have modules of
#: their own).
HANDLER_MODULES = (H, T, LC, JB, DS, FG, SV, AB)
from jupyter_mltrack.server.openapi import document

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "rest-api.md"
API_TS = ROOT / "labextension" / "src" / "api.ts"
PREFIX = "mltrack/api/"
HTTP_METHODS = ("get", "post", "put", "delete", "patch")
#: BaseHandler's and tornado's query readers; the first argument is the parameter's name.
READERS = ("str_arg", "int_arg", "ids_arg", "query", "get_query_argument", "get_query_arguments", "get_argument", "get_arguments")


# -- the code's side -----------------------------------------------------------------------------------------------

def route_template(pattern: str) -> str:
    """A route regex as a path template: ``runs/(?P<run_id>[…]{1,32})/metrics`` → ``runs/{run_id}/metrics``."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?P<", i):
            j = pattern.index(">", i)
            name, k, depth = pattern[i + 4:j], j + 1, 1
            while depth:  # to the group's closing parenthesis, past escapes and character classes
                c = pattern[k]
                if c == "\\":
                    k += 2
                elif c == "[":
                    k += 2 if pattern[k + 1] == "]" else 1
                    while pattern[k] != "]":
                        k += 2 if pattern[k] == "\\" else 1
                    k += 1
                else:
                    depth += (c == "(") - (c == ")")
                    k += 1
            out.append("{%s}" % name)
            i = k
        elif pattern[i] == "\\":
            out.append(pattern[i + 1])
            i += 2
        elif pattern[i] in ".^$*+?()[]{}|":
            raise ValueError(f"route {pattern!r}: {pattern[i]!r} at {i} has no place in a path template")
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Route:
    pattern: str
    handler: type
    path: str  # relative to mltrack/api/, as the docs write it: runs/{run_id}
    methods: dict  # "get" → qualified name of the function serving it

    @property
    def openapi_path(self) -> str:
        return "/" + PREFIX + self.path

    @property
    def path_params(self) -> set[str]:
        return set(re.findall(r"\{(\w+)\}", self.path))


def handler_methods(cls: type) -> dict[str, str]:
    """The HTTP methods a handler serves itself: functions of handlers.py, not tornado's 405 defaults, and not
    the catch-all's aliases (``post = put = … = get``)."""
    out = {}
    for m in HTTP_METHODS:
        fn = inspect.unwrap(getattr(cls, m))
        if fn.__module__ in {m.__name__ for m in HANDLER_MODULES} and not fn.__qualname__.startswith(
                H.UnknownRouteHandler.__name__ + "."):
            out[m] = fn.__qualname__
    return out


def handler_sources() -> str:
    """The source of every module holding handlers, as one text (class names are unique across them)."""
    return "\n".join(Path(m.__file__).read_text() for m in HANDLER_MODULES)


def api_routes() -> list[Route]:
    out = []
    for pattern, cls in H.ROUTES:
        if cls is H.UnknownRouteHandler and pattern.endswith("(?P<path>.*)"):
            continue  # the JSON 404 for everything else
        assert pattern.startswith(PREFIX), pattern
        out.append(Route(pattern, cls, route_template(pattern)[len(PREFIX):], handler_methods(cls)))
    return out


@dataclass
class QueryParam:
    name: str
    reader: str  # str_arg, int_arg, get_query_argument…
    required: bool = False
    lo: Any = None  # int_arg's bounds
    hi: Any = None


class HandlerSource:
    """handlers.py parsed: each function by qualified name (``RunsHandler.get``) and the query parameters it reads."""

    def __init__(self, source: str | None = None):
        self.tree = ast.parse(source if source is not None else handler_sources())
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for cls in self.tree.body:
            if isinstance(cls, ast.ClassDef):
                for fn in cls.body:
                    if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.functions[f"{cls.name}.{fn.name}"] = fn
        self.problems: list[str] = []

    def query_params(self, cls: type, method: str) -> dict[str, QueryParam]:
        """The query parameters ``cls.method`` reads, following ``self.helper()`` calls into other methods."""
        out: dict[str, QueryParam] = {}
        seen: set[str] = set()
        todo = [inspect.unwrap(getattr(cls, method)).__qualname__]
        while todo:
            qualname = todo.pop()
            if qualname in seen or qualname not in self.functions:
                continue
            seen.add(qualname)
            fn = self.functions[qualname]
            for name, p in self._reads(fn, f"{cls.__name__}.{method} ({qualname})").items():
                if name in out:
                    out[name].required |= p.required
                else:
                    out[name] = p
            for node in ast.walk(fn):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
                        and node.func.attr not in READERS and callable(getattr(cls, node.func.attr, None))):
                    callee = inspect.unwrap(getattr(cls, node.func.attr))
                    if getattr(callee, "__module__", None) == H.__name__:
                        todo.append(callee.__qualname__)
        return out

    def _reads(self, fn: ast.AST, where: str) -> dict[str, QueryParam]:
        def reader_call(node: ast.AST) -> str | None:
            """The parameter a reader call reads, if ``node`` is one."""
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
                    and node.func.attr in READERS):
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    return node.args[0].value
                msg = f"{where}: line {node.lineno} reads a query parameter whose name is not a string literal"
                if msg not in self.problems:
                    self.problems.append(msg)
            return None

        params: dict[str, QueryParam] = {}
        for node in ast.walk(fn):
            name = reader_call(node)
            if name is None:
                continue
            p = params.setdefault(name, QueryParam(name, node.func.attr))
            if node.func.attr == "int_arg":
                args = node.args + [None] * 4
                env = {k: v for m in HANDLER_MODULES for k, v in vars(m).items()}
                p.lo = eval(compile(ast.Expression(args[2]), "<bound>", "eval"), env) if args[2] else 0
                p.hi = eval(compile(ast.Expression(args[3]), "<bound>", "eval"), env) if args[3] else None
            elif node.func.attr in ("get_query_argument", "get_argument") and len(node.args) == 1 and not any(
                    k.arg == "default" for k in node.keywords):
                p.required = True  # tornado answers 400 "Missing argument" without it

        # required: ``if x is None [or y is None]: raise …`` (or ``if not x``), x a variable holding a reader's value
        var: dict[str, str] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                t, v = node.targets[0], node.value
                pairs = (zip(t.elts, v.elts) if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple)
                         and len(t.elts) == len(v.elts) else [(t, v)])
                for target, value in pairs:
                    if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                        name = reader_call(value)
                        if name is not None:
                            var[target.id] = name

        def param_of(expr: ast.AST) -> str | None:
            if isinstance(expr, ast.Name):
                return var.get(expr.id)
            return reader_call(expr)

        for node in ast.walk(fn):
            if not isinstance(node, ast.If) or not any(isinstance(s, ast.Raise) for s in node.body):
                continue
            terms = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.Or) \
                else [node.test]
            for term in terms:
                name = None
                if (isinstance(term, ast.Compare) and len(term.ops) == 1 and isinstance(term.ops[0], ast.Is)
                        and isinstance(term.comparators[0], ast.Constant) and term.comparators[0].value is None):
                    name = param_of(term.left)
                elif isinstance(term, ast.UnaryOp) and isinstance(term.op, ast.Not):
                    name = param_of(term.operand)
                if name is not None and name in params:
                    params[name].required = True
        return params


def code_query_params(src: HandlerSource | None = None) -> dict[tuple[str, str], dict[str, QueryParam]]:
    """(method, docs path) → the query parameters its handler reads."""
    src = src or HandlerSource()
    out = {(m, r.path): src.query_params(r.handler, m) for r in api_routes() for m in r.methods}
    assert not src.problems, "\n".join(src.problems)
    return out


# -- the docs' side ------------------------------------------------------------------------------------------------

def _without_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def docs_routes(text: str) -> dict[tuple[str, str], set[str]]:
    """(method, path) → the query parameters named in the docs' code spans ``GET runs?project=&limit=`` (all the
    spans naming that route, outside code blocks)."""
    out: dict[tuple[str, str], set[str]] = {}
    for m in re.finditer(r"`(GET|POST|PUT|DELETE|PATCH) ([^`]+)`", _without_fences(text)):
        path, _, qs = m.group(2).partition("?")
        names = out.setdefault((m.group(1).lower(), path), set())
        names |= {part.split("=", 1)[0] for part in qs.split("&") if part}
    return out


def _tokens(text: str) -> list[str]:
    text = re.sub(r"#[^\n]*", "", text)  # comments
    return re.findall(r'"[^"]*"|[{}\[\]:,]|\.\.|…', text)


def _parse(tokens: list[str], i: int = 0) -> tuple[Any, int]:
    """The batch sketch of the docs: JSON-like, an object's entries may be bare field names, ``..`` elides."""
    t = tokens[i]
    if t == "{":
        obj: dict[str, Any] = {}
        i += 1
        while tokens[i] != "}":
            key = json.loads(tokens[i])
            i += 1
            if tokens[i] == ":":
                obj[key], i = _parse(tokens, i + 1)
            else:
                obj[key] = None
            if tokens[i] == ",":
                i += 1
        return obj, i + 1
    if t == "[":
        arr = []
        i += 1
        while tokens[i] != "]":
            v, i = _parse(tokens, i)
            arr.append(v)
            if tokens[i] == ",":
                i += 1
        return arr, i + 1
    if t in ("..", "…"):
        return ..., i + 1
    return json.loads(t), i + 1


def docs_batch(text: str) -> dict[str, Any]:
    """The batch sketch: the first code block after "`POST batch`", parsed."""
    start = text.index("`POST batch`")
    m = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M).search(text, start)
    assert m, "docs/rest-api.md: no code block after `POST batch`"
    tokens = _tokens(m.group(1))
    value, end = _parse(tokens)
    assert end == len(tokens), f"docs/rest-api.md: the batch block does not parse past token {end}: {tokens[end:]}"
    return value


def docs_item_fields(batch: dict[str, Any], kind: str) -> set[str] | None:
    """The fields the docs' sketch shows for an item kind (``artifacts.files``: the file items of an artifact)."""
    node: Any = batch
    for part in kind.split("."):
        items = node.get(part) if isinstance(node, dict) else None
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return None
        node = items[0]
    return set(node)


def docs_required_fields(text: str) -> dict[str, set[str]] | None:
    """The docs' sentence "Required fields: `runs` `id`; `params`, `tags` `run_id`, …; `artifacts` …, each file
    `path`, …." as item kind → required fields (``artifacts.files`` after "each file")."""
    m = re.search(r"Required fields:(.*?)\.(?:\s|$)", _without_fences(text), re.S)
    if not m:
        return None
    out: dict[str, set[str]] = {}
    for clause in m.group(1).split(";"):
        kinds: list[str] = []
        fields_started = False
        for span, each_file in re.findall(r"`([^`]+)`|(each file)", clause):
            if each_file:
                kinds = [k + ".files" for k in kinds]
            elif not fields_started and span in B.SECTIONS:
                kinds.append(span)
            else:
                fields_started = True
                for k in kinds:
                    out.setdefault(k, set()).add(span)
    return out


# -- the OpenAPI side ----------------------------------------------------------------------------------------------

def resolve(doc: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def openapi_params(doc: dict, path: str, method: str, where: str) -> dict[str, dict]:
    """The parameters of an operation (its own and its path's) that are ``in: where`` (query, path)."""
    item = doc["paths"][path]
    params = [resolve(doc, p) for p in item.get("parameters", []) + item[method].get("parameters", [])]
    return {p["name"]: p for p in params if p["in"] == where}


def openapi_query_params(doc: dict, path: str, method: str) -> dict[str, dict]:
    return openapi_params(doc, path, method, "query")


# -- the checks: each answers a list of problems -------------------------------------------------------------------

def route_problems(docs_text: str, doc: dict) -> list[str]:
    problems = []
    routes = api_routes()
    documented = docs_routes(docs_text)
    by_path = {r.path: r for r in routes}
    for r in routes:
        for m in r.methods:
            if (m, r.path) not in documented:
                problems.append(f"docs/rest-api.md: no `{m.upper()} {r.path}` ({r.handler.__name__}.{m})")
            if m not in doc["paths"].get(r.openapi_path, {}):
                problems.append(f"OpenAPI: no {m} operation at {r.openapi_path} ({r.handler.__name__}.{m})")
                continue
            declared = set(openapi_params(doc, r.openapi_path, m, "path"))
            if declared != r.path_params:
                problems.append(f"OpenAPI: {m} {r.openapi_path} declares path parameters {sorted(declared)}, "
                                f"the route has {sorted(r.path_params)}")
    for m, path in sorted(documented):
        r = by_path.get(path)
        if r is None:
            problems.append(f"docs/rest-api.md: `{m.upper()} {path}` is documented but there is no such route")
        elif m not in r.methods:
            problems.append(f"docs/rest-api.md: `{m.upper()} {path}` is documented but {r.handler.__name__} "
                            f"has no {m}")
    for path, item in sorted(doc["paths"].items()):
        r = next((r for r in routes if r.openapi_path == path), None)
        if r is None:
            problems.append(f"OpenAPI: path {path} has no route in handlers.ROUTES")
            continue
        for m in sorted(set(item) & set(HTTP_METHODS) - set(r.methods)):
            problems.append(f"OpenAPI: {m} {path} is described but {r.handler.__name__} has no {m}")
    return problems


def query_param_problems(docs_text: str, doc: dict, src: HandlerSource | None = None) -> list[str]:
    problems = []
    documented = docs_routes(docs_text)
    code = code_query_params(src)
    for r in api_routes():
        for m in r.methods:
            reads = set(code[(m, r.path)])
            where = f"{r.handler.__name__}.{m}"
            in_docs = documented.get((m, r.path))
            if in_docs is not None:  # a missing route is route_problems' to report
                for name in sorted(reads - in_docs):
                    problems.append(f"docs/rest-api.md: `{m.upper()} {r.path}` lacks query parameter {name!r} "
                                    f"({where} reads it)")
                for name in sorted(in_docs - reads):
                    problems.append(f"docs/rest-api.md: `{m.upper()} {r.path}` documents query parameter {name!r}, "
                                    f"which {where} does not read")
            if m in doc["paths"].get(r.openapi_path, {}):
                in_api = set(openapi_query_params(doc, r.openapi_path, m))
                for name in sorted(reads - in_api):
                    problems.append(f"OpenAPI: {m} {r.openapi_path} lacks query parameter {name!r} ({where} reads it)")
                for name in sorted(in_api - reads):
                    problems.append(f"OpenAPI: {m} {r.openapi_path} describes query parameter {name!r}, which "
                                    f"{where} does not read")
    return problems


def required_problems(doc: dict, src: HandlerSource | None = None) -> list[str]:
    problems = []
    for (m, path), params in code_query_params(src).items():
        api = openapi_query_params(doc, "/" + PREFIX + path, m) if m in doc["paths"].get("/" + PREFIX + path, {}) \
            else {}
        for name, p in sorted(params.items()):
            if name in api and bool(api[name].get("required")) != p.required:
                problems.append(f"OpenAPI: {m} /{PREFIX}{path} query parameter {name!r} has required: "
                                f"{bool(api[name].get('required'))}, but the handler "
                                f"{'refuses a request without it' if p.required else 'does without it'}")
    return problems


def integer_problems(doc: dict) -> list[str]:
    """``int_arg`` parameters are integers with the handler's bounds; the others strings."""
    problems = []
    for (m, path), params in code_query_params().items():
        api_path = "/" + PREFIX + path
        api = openapi_query_params(doc, api_path, m) if m in doc["paths"].get(api_path, {}) else {}
        for name, p in sorted(params.items()):
            if name not in api:
                continue
            schema = resolve(doc, api[name].get("schema", {}))
            want = "integer" if p.reader == "int_arg" else "string"
            if schema.get("type") != want:
                problems.append(f"OpenAPI: {m} {api_path} query parameter {name!r} is {schema.get('type')!r}; "
                                f"the handler reads it as {want} ({p.reader})")
            if p.reader == "int_arg" and (schema.get("minimum"), schema.get("maximum")) != (p.lo, p.hi):
                problems.append(f"OpenAPI: {m} {api_path} query parameter {name!r} has minimum/maximum "
                                f"{schema.get('minimum')}/{schema.get('maximum')}; the handler accepts {p.lo}…{p.hi}")
    return problems


def batch_problems(docs_text: str, doc: dict) -> list[str]:
    problems = []
    # the docs
    sketch = docs_batch(docs_text)
    if list(sketch) != list(B.BATCH_KEYS):
        problems.append(f"docs/rest-api.md: the batch shows keys {list(sketch)}; core.batch.BATCH_KEYS is "
                        f"{list(B.BATCH_KEYS)} (the id, then the sections in the order the store applies them)")
    for kind, (required, optional) in B.ITEM_FIELDS.items():
        shown = docs_item_fields(sketch, kind)
        if shown is None:
            problems.append(f"docs/rest-api.md: the batch shows no {kind} item")
            continue
        for f in sorted(set(required) | set(optional)):
            if f not in shown:
                problems.append(f"docs/rest-api.md: the batch's {kind} item lacks field {f!r}")
        for f in sorted(shown - set(required) - set(optional)):
            problems.append(f"docs/rest-api.md: the batch's {kind} item shows field {f!r}, which "
                            "core.batch.ITEM_FIELDS does not have")
    required_in_docs = docs_required_fields(docs_text)
    if required_in_docs is None:
        problems.append("docs/rest-api.md: no sentence \"Required fields: …\" after the batch")
    else:
        for kind, (required, _optional) in B.ITEM_FIELDS.items():
            shown = required_in_docs.get(kind, set())
            if shown != set(required):
                problems.append(f"docs/rest-api.md: \"Required fields\" gives {kind} {sorted(shown)}; "
                                f"core.batch.ITEM_FIELDS requires {sorted(required)}")
        for kind in sorted(set(required_in_docs) - set(B.ITEM_FIELDS)):
            problems.append(f"docs/rest-api.md: \"Required fields\" names {kind!r}, which has no item fields")
    # OpenAPI
    body = doc["paths"]["/" + PREFIX + "batch"]["post"]["requestBody"]["content"]
    for ctype, media in sorted(body.items()):
        schema = resolve(doc, media.get("schema", {}))
        where = f"OpenAPI: the batch schema ({ctype})"
        sections = schema.get("properties", {})
        for s in B.BATCH_KEYS:
            if s not in sections:
                problems.append(f"{where} lacks key {s!r}")
        for s in sorted(set(sections) - set(B.BATCH_KEYS)):
            problems.append(f"{where} has key {s!r}, which core.batch.BATCH_KEYS does not")
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where} must say additionalProperties: false (unknown sections are refused)")
        for kind, (required, optional) in B.ITEM_FIELDS.items():
            node: Any = schema
            for part in kind.split("."):
                node = resolve(doc, resolve(doc, node.get("properties", {}).get(part, {})).get("items", {}))
            props, req = set(node.get("properties", {})), set(node.get("required", []))
            for f in sorted(set(required) | set(optional)):
                if f not in props:
                    problems.append(f"{where}: the {kind} item lacks field {f!r}")
            for f in sorted(props - set(required) - set(optional)):
                problems.append(f"{where}: the {kind} item has field {f!r}, which core.batch.ITEM_FIELDS does not")
            if req != set(required):
                problems.append(f"{where}: the {kind} item requires {sorted(req)}; core.batch.ITEM_FIELDS "
                                f"requires {sorted(required)}")
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}: the {kind} item must say additionalProperties: false (unknown fields "
                                "are refused)")
    return problems


# -- api.ts --------------------------------------------------------------------------------------------------------

PLACEHOLDER = object()  # a value computed at run time (a run id, an encoded path)
QUERY = object()  # query(...): the query string starts here


def _skip_quoted(s: str, i: int) -> int:
    q, i = s[i], i + 1
    while s[i] != q:
        i += 2 if s[i] == "\\" else 1
    return i + 1


def _skip_template(s: str, i: int) -> int:
    i += 1
    while s[i] != "`":
        if s[i] == "\\":
            i += 2
        elif s.startswith("${", i):
            i = _scan(s, i + 2, "}") + 1
        else:
            i += 1
    return i + 1


def _scan(s: str, i: int, stop: str) -> int:
    """The index of the first character in ``stop`` at nesting depth 0 from ``i`` (``len(s)`` if none)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "'\"":
            i = _skip_quoted(s, i)
            continue
        if c == "`":
            i = _skip_template(s, i)
            continue
        if depth == 0 and c in stop:
            return i
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    return i


def _terms(expr: str) -> list[Any]:
    """A path expression as literal text, PLACEHOLDER and QUERY parts: ``'runs/' + encodeURIComponent(id)``."""
    parts: list[Any] = []
    i = 0
    while i <= len(expr):
        j = _scan(expr, i, "+")
        term = expr[i:j].strip()
        i = j + 1
        if not term:
            continue
        if term[0] in "'\"" and _skip_quoted(term, 0) == len(term):
            parts.append(ast.literal_eval(term))
        elif term[0] == "`" and _skip_template(term, 0) == len(term):
            k, lit = 1, ""
            while k < len(term) - 1:
                if term.startswith("${", k):
                    parts += [lit, PLACEHOLDER]
                    lit, k = "", _scan(term, k + 2, "}") + 1
                else:
                    lit += term[k]
                    k += 1
            parts.append(lit)
        elif re.match(r"query\s*\(", term):
            parts.append(QUERY)
        else:
            parts.append(PLACEHOLDER)
    return parts


def api_ts_paths(ts: str) -> list[tuple[str, str, list[Any]]]:
    """(function called, source text of the path argument, its parts) for each ``apiUrl(…)`` and
    ``requestJson<…>(…)`` in api.ts whose path has a literal part (calls passing a ``path`` through are skipped)."""
    ts = re.sub(r"/\*.*?\*/", "", ts, flags=re.S)
    ts = re.sub(r"^\s*//[^\n]*", "", ts, flags=re.M)
    out = []
    for m in re.finditer(r"(?<![\w.$])(apiUrl|requestJson)\b", ts):
        if re.search(r"function\s*$", ts[:m.start()]):
            continue  # the definition
        i = m.end()
        while ts[i].isspace():
            i += 1
        if ts[i] == "<":  # type arguments
            depth = 0
            while True:
                depth += (ts[i] == "<") - (ts[i] == ">")
                i += 1
                if depth == 0:
                    break
            while ts[i].isspace():
                i += 1
        if ts[i] != "(":
            continue  # a mention, not a call
        end = _scan(ts, i + 1, ",)")
        arg = ts[i + 1:end].strip()
        parts = _terms(arg)
        if any(isinstance(p, str) and p for p in parts):
            out.append((m.group(1), arg, parts))
    return out


def _samples(parts: list[Any]) -> list[str]:
    """The path with each computed part replaced by sample values (one of them fits each route's groups)."""
    path_parts = []
    for p in parts:
        if p is QUERY:
            break
        path_parts.append(p)
    slots = [i for i, p in enumerate(path_parts) if p is PLACEHOLDER]
    out = []
    for values in itertools.product(("1", "abc", "0" * 64, "a/b.txt"), repeat=len(slots)):
        filled = list(path_parts)
        for i, v in zip(slots, values):
            filled[i] = v
        out.append("".join(filled).split("?", 1)[0])
    return out


def api_ts_problems(ts: str) -> list[str]:
    problems = []
    routes = api_routes()
    found = api_ts_paths(ts)
    if len(found) < 5:
        problems.append(f"labextension/src/api.ts: found only {len(found)} API paths; has the way it builds "
                        "URLs changed (apiUrl / requestJson)?")
    for fn, arg, parts in found:
        matches = [r for r in routes if any(re.fullmatch(r.pattern, PREFIX + s) for s in _samples(parts))]
        if not matches:
            problems.append(f"labextension/src/api.ts: {fn}({arg}) names no route in handlers.ROUTES")
        elif fn == "requestJson" and not any("get" in r.methods for r in matches):
            problems.append(f"labextension/src/api.ts: {fn}({arg}) GETs a route without a get handler")
    return problems


# -- the tests -----------------------------------------------------------------------------------------------------

def _fail(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


@pytest.fixture(scope="module")
def docs_text() -> str:
    return DOCS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def openapi() -> dict:
    return document("0.0.0")


def test_every_route_and_method_is_in_the_docs_and_openapi(docs_text, openapi):
    problems = route_problems(docs_text, openapi)
    assert not problems, _fail(problems)


def test_every_query_parameter_is_in_the_docs_and_openapi(docs_text, openapi):
    problems = query_param_problems(docs_text, openapi)
    assert not problems, _fail(problems)


def test_openapi_marks_exactly_the_required_query_parameters(openapi):
    """required: true exactly where the handler raises without the parameter (read from handlers.py; the run-time
    test below asks the server itself)."""
    problems = required_problems(openapi)
    assert not problems, _fail(problems)


def test_openapi_query_parameter_types_and_bounds(openapi):
    problems = integer_problems(openapi)
    assert not problems, _fail(problems)


def test_every_batch_section_and_field_is_in_the_docs_and_openapi(docs_text, openapi):
    problems = batch_problems(docs_text, openapi)
    assert not problems, _fail(problems)


def test_the_limits_table_states_the_validation_layer_s_numbers(docs_text):
    from jupyter_mltrack.core import search, validation as V
    from jupyter_mltrack.server import handlers

    table = docs_text.split("**Limits.**", 1)[1].split("\n\n`", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in table.splitlines() if line.startswith("| ")}

    def has(row_start: str, number: int) -> None:
        row = next(v for k, v in rows.items() if k.startswith(row_start))
        assert f"{number:,}" in row or str(number) in row, (row_start, number, row)

    has("names", V.MAX_KEY)
    has("free text", V.MAX_TEXT)
    has("tag values", V.MAX_TAG_VALUE)
    has("param values", V.MAX_PARAM_JSON)
    has("param values", V.MAX_DEPTH)
    has("artifact `metadata`", V.MAX_METADATA_JSON)
    has("artifact file `media_type`", V.MAX_MEDIA_TYPE)
    has("query string", V.MAX_QUERY)
    has("run ids in", V.MAX_IDS)
    has("`limit`", handlers.MAX_LIMIT)
    has("search filters", search.MAX_TEXT_LENGTH)
    has("search filters", search.MAX_TERMS)
    has("search filters", search.MAX_NESTING)
    has("search filters", search.MAX_ORDER_TERMS)
    assert f"{V.MAX_SECONDS:.0e}".replace("+", "") in rows["times (`start_time`, `end_time`, `timestamps`)"]
    from jupyter_mltrack.core.batch import NULLABLE

    nulls = rows["`null`"]
    assert sorted(f"{k}.{f}" for k, fs in NULLABLE.items() for f in fs) == sorted(
        x.split("`")[1] for x in nulls.split(";")[0].split(",") if "`" in x)


def test_labextension_client_names_only_existing_routes():
    problems = api_ts_problems(API_TS.read_text(encoding="utf-8"))
    assert not problems, _fail(problems)


def test_openapi_document_is_valid(openapi):
    validator = pytest.importorskip("openapi_spec_validator")
    json.dumps(openapi, allow_nan=False)  # served as JSON
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.OpenAPIV31SpecValidator(openapi).iter_errors()]
    assert not errors, _fail(errors)


async def test_required_query_parameters_at_runtime(jp_fetch, openapi):
    """The server itself agrees with OpenAPI's required flags: a GET with only the required parameters is not refused
    (400), and one without any one of them is a 400 naming it."""
    from tornado.httpclient import HTTPClientError

    async def get(url: str, query: dict) -> tuple[int, str]:
        try:
            await jp_fetch(PREFIX + url, params=query)
            return 200, ""
        except HTTPClientError as e:
            return e.code, json.loads(e.response.body)["error"]["message"]

    sample_path = {"run_id": "abc", "artifact_id": "1", "path": "x.txt", "sha256": "0" * 64, "name": "x"}
    problems, tried = [], 0
    for r in api_routes():
        if "get" not in r.methods or not openapi_query_params(openapi, r.openapi_path, "get"):
            continue
        url = r.path.format(**sample_path)
        required = {n: "x" for n, p in openapi_query_params(openapi, r.openapi_path, "get").items()
                    if p.get("required")}
        status, message = await get(url, required)  # unknown ids are a 404: fine, the parameters were accepted
        tried += 1
        if status == 400:
            problems.append(f"GET {url} with only the required parameters {sorted(required)}: 400 {message!r}")
        for name in required:
            status, message = await get(url, {k: v for k, v in required.items() if k != name})
            tried += 1
            if status != 400 or not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message):
                problems.append(f"GET {url} without {name!r} (required: true in OpenAPI): {status} {message!r}")
    assert tried >= 10
    assert not problems, _fail(problems)


def _every_field(batch: dict) -> dict[str, set[str]]:
    """Item kind → the fields a sample batch fills."""
    out: dict[str, set[str]] = {}
    for section, items in batch.items():
        for item in items:
            if isinstance(item, dict):
                out.setdefault(section, set()).update(item)
                for f in item.get("files", []) if section == "artifacts" else []:
                    out.setdefault("artifacts.files", set()).update(f)
    return out


async def test_a_batch_with_every_field_matches_openapi_and_is_written(jp_fetch, openapi):
    """Two batches filling every field of every section (the second needs the artifact id the first created) are
    valid against the OpenAPI schema and written by the server, whose answer has the documented counts."""
    import hashlib

    import jsonschema

    data = b"model bytes\n"
    sha = hashlib.sha256(data).hexdigest()
    await jp_fetch(PREFIX + "blobs/" + sha, method="PUT", body=data)
    first = {
        "projects": [{"name": "p", "description": "a project"}],
        "experiments": [{"project": "p", "name": "e", "description": "an experiment"}],
        "campaigns": [{"project": "p", "name": "c", "description": "a campaign"}],
        "runs": [{"id": "r0", "project": "p"},
                 {"id": "r1", "name": "one", "project": "p", "experiments": ["e"], "campaigns": ["c"],
                  "parent_id": "r0", "user": "u", "source": "nb.ipynb", "description": "d", "start_time": 1.7e9,
                  "status": "running"}],
        "params": [{"run_id": "r1", "key": "lr", "value": 0.1}],
        "tags": [{"run_id": "r1", "key": "t", "value": "v"}],
        "metrics": [{"run_id": "r1", "name": "loss", "context": {"subset": "val"}, "steps": [0, 1],
                     "timestamps": [1.7e9, 1.7e9 + 1], "values": [1.0, "NaN"]}],
        "artifacts": [{"run_id": "r1", "name": "model", "type": "model", "metadata": {"k": 1},
                       "files": [{"path": "m.bin", "sha256": sha, "size": len(data),
                                  "media_type": "application/octet-stream"}]}],
        "updates": [{"run_id": "r1", "status": "finished", "end_time": 1.7e9 + 2, "error": None,
                     "description": "done", "name": "one"}],
        "heartbeat": ["r0"],
    }
    validator = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/Batch", **openapi})
    r = json.loads((await jp_fetch(PREFIX + "batch", method="POST", body=json.dumps(first))).body)
    run = json.loads((await jp_fetch(PREFIX + "runs/r1")).body)
    second = {
        "inputs": [{"run_id": "r0", "artifact_id": run["artifacts"][0]["id"], "role": "checkpoint"}],
        "models": [{"project": "p", "name": "m", "artifact_id": run["artifacts"][0]["id"], "stage": "staging",
                    "description": "first"}],
        "datasets": [{"project": "p", "name": "d", "run_id": "r1", "kind": "file", "metadata": {"rows": 1},
                      "files": [{"path": "d.bin", "sha256": sha, "size": len(data),
                                 "media_type": "application/octet-stream"}]}],
        "aliases": [{"project": "p", "model": "m", "alias": "champion", "version": 1},
                    {"project": "p", "dataset": "d", "alias": "latest", "version": 1}],
        "stages": [{"project": "p", "model": "m", "version": 1, "stage": "production"}],
        "figures": [{"run_id": "r1", "name": "samples", "kind": "image", "step": 3, "context": {"subset": "val"},
                     "files": [{"path": "image.png", "sha256": sha, "size": len(data), "media_type": "image/png"}]}],
    }
    filled = _every_field(first)
    for kind, fields in _every_field(second).items():
        filled.setdefault(kind, set()).update(fields)
    for kind, (required, optional) in B.ITEM_FIELDS.items():  # the sample keeps up with core.batch
        assert filled.get(kind) == set(required) | set(optional), (kind, filled.get(kind))
    for batch in (first, second):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(batch)]
        assert not errors, _fail(errors)
    r2 = json.loads((await jp_fetch(PREFIX + "batch", method="POST", body=json.dumps(second))).body)
    counts = resolve(openapi, _get_op(openapi, "batch", "post")["responses"]["200"]["content"]["application/json"][
        "schema"])["properties"]["written"]["properties"]
    for written in (r["written"], r2["written"]):
        assert set(written) <= set(counts), set(written) - set(counts)
        errors = [e.message for e in jsonschema.Draft202012Validator(
            {"type": "object", "properties": counts}).iter_errors(written)]
        assert not errors, errors
    assert {k: v for k, v in r["written"].items() if v} == {
        "projects": 1, "experiments": 1, "campaigns": 1, "runs": 2, "params": 1, "tags": 1, "points": 2, "artifacts": 1,
        "updates": 1}, r["written"]
    assert r2["written"]["inputs"] == 1 and r2["written"]["models"] == 1 and r2["written"]["figures"] == 1
    assert r2["written"]["registered"] == [{"project": "p", "name": "m", "version": 1}]
    assert r2["written"]["dataset_versions"] == [{"project": "p", "name": "d", "version": 1}]
    assert (r2["written"]["aliases"], r2["written"]["stages"]) == (2, 1)
    models = json.loads((await jp_fetch(PREFIX + "models", params={"project": "p"})).body)["models"]
    assert [(m["name"], m["version"], m["stage"], m["description"], m["aliases"]) for m in models] == [
        ("m", 1, "production", "first", ["champion"])]


# -- the checks fail when they should ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Inputs:
    """What the checks read: the docs, the OpenAPI document, api.ts and handlers.py's source."""

    docs: str
    api: dict
    ts: str
    handlers: str

    def with_(self, **kw: Any) -> "Inputs":
        return Inputs(**{**self.__dict__, **kw})


def _drop_docs_line(text: str, needle: str) -> str:
    lines = text.splitlines(keepends=True)
    hit = [i for i, line in enumerate(lines) if needle in line]
    assert hit, needle
    del lines[hit[0]]
    return "".join(lines)


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _get_op(doc: dict, path: str, method: str = "get") -> dict:
    return doc["paths"]["/" + PREFIX + path][method]


def _drop_openapi_param(doc: dict, path: str, name: str) -> dict:
    doc = copy.deepcopy(doc)
    op = _get_op(doc, path)
    op["parameters"] = [p for p in op["parameters"] if p["name"] != name]
    return doc


def _flip_required(doc: dict, path: str, name: str) -> dict:
    doc = copy.deepcopy(doc)
    for p in _get_op(doc, path)["parameters"]:
        if p["name"] == name:
            p["required"] = not p.get("required")
    return doc


def _batch_schema(doc: dict) -> dict:
    return resolve(doc, _get_op(doc, "batch", "post")["requestBody"]["content"]["application/json"]["schema"])


def _drop_batch_field(doc: dict, section: str, field: str) -> dict:
    doc = copy.deepcopy(doc)
    items = resolve(doc, _batch_schema(doc)["properties"][section])["items"]
    items["properties"].pop(field)
    if field in items.get("required", []):
        items["required"].remove(field)
    return doc


def _drop_batch_section(doc: dict, section: str) -> dict:
    doc = copy.deepcopy(doc)
    _batch_schema(doc)["properties"].pop(section)
    return doc


def _drop_path(doc: dict, path: str) -> dict:
    doc = copy.deepcopy(doc)
    del doc["paths"]["/" + PREFIX + path]
    return doc


def _with_path(doc: dict, path: str) -> dict:
    doc = copy.deepcopy(doc)
    doc["paths"]["/" + PREFIX + path] = {"get": {"responses": {"200": {"description": "OK"}}}}
    return doc


_BOGUS_TS = ("\nexport function bogus(s?: ServerConnection.ISettings): Promise<Run> {\n"
             "  return requestJson<Run>(`runz/${encodeURIComponent('a')}/metrics` + query({ name: 'x' }), s);\n}\n")

_routes = lambda i: route_problems(i.docs, i.api)  # noqa: E731
_queries = lambda i: query_param_problems(i.docs, i.api, HandlerSource(i.handlers))  # noqa: E731
_required = lambda i: required_problems(i.api, HandlerSource(i.handlers))  # noqa: E731
_batch = lambda i: batch_problems(i.docs, i.api)  # noqa: E731
_ts = lambda i: api_ts_problems(i.ts)  # noqa: E731

#: name → (break a copy of the inputs, the check to run, a problem it must report then, and not before)
MUTATIONS: dict[str, tuple[Callable[[Inputs], Inputs], Callable[[Inputs], list[str]], str]] = {
    "route line removed from the docs": (
        lambda i: i.with_(docs=_drop_docs_line(i.docs, "`GET columns?")), _routes,
        "docs/rest-api.md: no `GET columns` (ColumnsHandler.get)"),
    "method the handler lacks in the docs": (
        lambda i: i.with_(docs=_replace(i.docs, "`PUT blobs/{sha256}`", "`DELETE blobs/{sha256}`")), _routes,
        "docs/rest-api.md: `DELETE blobs/{sha256}` is documented but BlobHandler has no delete"),
    "route removed from OpenAPI": (
        lambda i: i.with_(api=_drop_path(i.api, "diff")), _routes,
        "OpenAPI: no get operation at /mltrack/api/diff (DiffHandler.get)"),
    "path without a route in OpenAPI": (
        lambda i: i.with_(api=_with_path(i.api, "bogus")), _routes,
        "OpenAPI: path /mltrack/api/bogus has no route"),
    "query parameter removed from OpenAPI": (
        lambda i: i.with_(api=_drop_openapi_param(i.api, "runs", "offset")), _queries,
        "OpenAPI: get /mltrack/api/runs lacks query parameter 'offset' (RunsHandler.get reads it)"),
    "query parameter removed from the docs": (
        lambda i: i.with_(docs=_replace(i.docs, "&step_max=", "")), _queries,
        "docs/rest-api.md: `GET metrics` lacks query parameter 'step_max' (SeriesManyHandler.get reads it)"),
    "documented query parameter the handler does not read": (
        lambda i: i.with_(docs=_replace(i.docs, "`GET models?project=", "`GET models?project=&bogus=")), _queries,
        "docs/rest-api.md: `GET models` documents query parameter 'bogus'"),
    "handler reads a new query parameter": (
        lambda i: i.with_(handlers=_replace(i.handlers, 'view = self.str_arg("view")',
                                            'self.str_arg("sort")\n        view = self.str_arg("view")')), _queries,
        "OpenAPI: get /mltrack/api/runs lacks query parameter 'sort'"),
    "required flag cleared in OpenAPI": (
        lambda i: i.with_(api=_flip_required(i.api, "diff", "b")), _required,
        "OpenAPI: get /mltrack/api/diff query parameter 'b' has required: False"),
    "optional parameter marked required in OpenAPI": (
        lambda i: i.with_(api=_flip_required(i.api, "runs", "limit")), _required,
        "OpenAPI: get /mltrack/api/runs query parameter 'limit' has required: True"),
    "handler no longer refuses a request without a parameter": (
        lambda i: i.with_(handlers=_replace(i.handlers, "if ids is None:\n", "if ids is None and False:\n")),
        _required, "OpenAPI: get /mltrack/api/report query parameter 'runs' has required: True"),
    "batch field removed from the docs": (
        lambda i: i.with_(docs=_replace(i.docs, '"artifact_id", "stage"', '"artifact_id"')), _batch,
        "docs/rest-api.md: the batch's models item lacks field 'stage'"),
    "batch file field removed from the docs": (
        lambda i: i.with_(docs=_replace(i.docs, '"size", "media_type"', '"size"')), _batch,
        "docs/rest-api.md: the batch's artifacts.files item lacks field 'media_type'"),
    "required batch field left out of the docs' list": (
        lambda i: i.with_(docs=_replace(i.docs, "`inputs` `run_id`, `artifact_id`;", "`inputs` `run_id`;")), _batch,
        "docs/rest-api.md: \"Required fields\" gives inputs ['run_id']"),
    "batch field removed from OpenAPI": (
        lambda i: i.with_(api=_drop_batch_field(i.api, "runs", "campaigns")), _batch,
        "OpenAPI: the batch schema (application/json): the runs item lacks field 'campaigns'"),
    "batch section removed from OpenAPI": (
        lambda i: i.with_(api=_drop_batch_section(i.api, "models")), _batch,
        "OpenAPI: the batch schema (application/json) lacks key 'models'"),
    "bogus route in api.ts": (
        lambda i: i.with_(ts=i.ts + _BOGUS_TS), _ts,
        "requestJson(`runz/${encodeURIComponent('a')}/metrics` + query({ name: 'x' })) names no route"),
    "api.ts path that cannot match": (
        lambda i: i.with_(ts=_replace(i.ts, "`artifacts/${artifactId}/files/", "`artifacts/${artifactId}/file/")),
        _ts, "apiUrl(`artifacts/${artifactId}/file/${encoded}`) names no route"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_checks_catch_mutations(name, docs_text, openapi):
    """Each check reports a deliberately broken copy of its inputs (and not the real ones)."""
    mutate, check, expected = MUTATIONS[name]
    inputs = Inputs(docs_text, openapi, API_TS.read_text(encoding="utf-8"), handler_sources())
    before = check(inputs)
    assert not any(expected in p for p in before), _fail(before)
    after = check(mutate(inputs))
    assert any(expected in p for p in after), f"{name}: expected {expected!r} among\n" + _fail(after)
