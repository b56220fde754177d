"""The sandbox every prompt template is rendered in.

A template is user input. It is rendered by Jinja2's immutable sandbox with strict undefined, and
nothing it builds may exceed MAX_RENDERED_CHARS: the size of what an operator, method, filter or
block would build is worked out from its operands before Python allocates it, and one render's
``range()`` items and built characters are budgeted. Its time is budgeted too: every loop
iteration and every call (macros included) is a step, and a render stops at MAX_RENDER_STEPS
steps or at its deadline, whichever comes first (both checked at every step, so a template that
prints nothing is stopped as surely as one that builds). So a template can neither reach Python
internals nor take the process down. Tied to Jinja2 3.1 internals (code generator, binop table,
str.format wrapping): re-run tests/unit/test_templates.py on every Jinja upgrade.
"""

import contextvars
import functools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Set, ValuesView
from dataclasses import dataclass
from functools import update_wrapper
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes, sandbox
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, markup_join, str_join
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import Markup

MAX_RENDERED_CHARS = 1_000_000  # the output, and any one value built while rendering
MAX_BUILT_CHARS = 10 * MAX_RENDERED_CHARS  # all chars and items one render builds: no pile-up
MAX_RANGE_ITEMS = 100_000  # across every range() of one render, so nested loops stay bounded
MAX_RENDER_STEPS = 200_000  # loop iterations and calls (macros included) of one render
RENDER_SECONDS = 2.0  # the default wall-clock budget of one render
_MAX_POWER_EXPONENT = 64
_STEPS = "_counted_steps"  # the filter every {% for %} iterates through
_T = TypeVar("_T")


class RenderBudgetExceeded(SecurityError):
    """The render used up its steps or its time: it was stopped."""


@dataclass(slots=True)
class _Budget:
    """What is left of one render's budgets."""

    range_items: int = MAX_RANGE_ITEMS
    built: int = MAX_BUILT_CHARS  # characters and items
    steps: int = MAX_RENDER_STEPS
    deadline: float = float("inf")  # time.monotonic()

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderBudgetExceeded(
                f"more than {MAX_RENDER_STEPS} loop iterations and calls in one render"
            )
        self.in_time()

    def in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderBudgetExceeded("the render took longer than its time budget")


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("render_budget")


def _current() -> _Budget:
    """The current render's budget (a fresh one outside render_source, e.g. at compile time)."""
    return _budget.get(None) or _Budget()


def _bounded_range(*args: int) -> range:
    items = range(*args)
    budget = _current()
    budget.range_items -= len(items)
    if budget.range_items < 0:
        raise SecurityError(
            f"range() would produce more than {MAX_RANGE_ITEMS} items in one render"
        )
    return items


def _counted(items: Any) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: one step per iteration."""
    budget = _current()
    for item in items:
        budget.step()
        yield item


def _weight(value: Any) -> int:
    """About ``len(str(value))``, counted no further than just past MAX_RENDERED_CHARS: a list
    holding one big string a million times is measured without being printed."""
    total, stack = 0, [value]
    while stack and total <= MAX_RENDERED_CHARS:
        item = stack.pop()
        if isinstance(item, Mapping):
            item = item.items()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Namespace):
            stack.append(item._Namespace__attrs)
        elif isinstance(item, list | tuple | Set | ValuesView):
            total += 2 + len(item)  # brackets and separators
            if total <= MAX_RENDERED_CHARS and set(map(type, item)) <= {str}:
                total += sum(map(len, item))  # flat strings are measured in C, quickly
            elif total <= MAX_RENDERED_CHARS:
                stack.extend(item)
        else:
            total += 1
    return total


def _check(size: int, what: str) -> None:
    """Refuse, before it is built, anything bigger than MAX_RENDERED_CHARS."""
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(f"{what} would build more than {MAX_RENDERED_CHARS} characters")


def _built(value: _T, what: str) -> _T:
    """Refuse a value that came out too big, and charge it to the render's budget."""
    _check(_weight(value), what)
    budget = _budget.get(None)
    if budget is not None and isinstance(value, str | bytes | list | tuple | dict | set):
        budget.built -= len(value)
        if budget.built < 0:
            raise SecurityError(f"template built more than {MAX_BUILT_CHARS} characters in all")
        budget.in_time()
    return value


def _replace_size(s: Any, old: Any, new: Any, count: Any = -1) -> int:
    hits = s.count(old) if count is None or count < 0 else min(count, s.count(old))
    return int(len(s) + hits * (len(new) - len(old)))


_PRINTF_FIELD = re.compile(r"%(?:%|(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?)")


def _printf_size(fmt: str | bytes, args: Any) -> int:
    """At most what ``fmt % args`` builds: the text, the arguments and every width/precision."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    star = sum(abs(a) for a in (args if isinstance(args, tuple) else [args]) if type(a) is int)
    fields = [n for spec in _PRINTF_FIELD.findall(text) for n in spec if n]
    return len(text) + _weight(args) + sum(star if n == "*" else int(n) for n in fields)


def _json_size(value: Any, indent: Any = None) -> int:
    """Indentation repeats on every line at every depth: count it with a one-character indent."""
    if not indent:
        return 0
    probe = json.dumps(value, indent="\x00")  # NUL within strings is escaped: the count is exact
    return len(probe) + probe.count("\x00") * int(
        len(indent) if isinstance(indent, str) else indent
    )


def _call_size(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """What a str/bytes method (or int.to_bytes) would build, for those that can pad or grow."""
    if isinstance(target, int) and name == "to_bytes":
        return int(args[0] if args else kwargs.get("length", 1))
    if not isinstance(target, str | bytes):
        return 0
    if name == "expandtabs":
        tabs = (target if isinstance(target, str) else target.decode("latin-1")).count("\t")
        return len(target) + tabs * int(args[0] if args else kwargs.get("tabsize", 8))
    if name in ("center", "ljust", "rjust", "zfill") and args:
        return int(args[0])
    if name == "replace" and len(args) > 1:
        return _replace_size(target, *args)
    if name == "join" and args:
        return len(target) * len(args[0]) + _weight(args[0])
    if name == "translate" and args and isinstance(args[0], Mapping | list | tuple):
        table = args[0].values() if isinstance(args[0], Mapping) else args[0]
        return len(target) * max(map(_weight, table), default=1)
    return 0


# Filters whose arguments can multiply their output, and the size they would then build.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80: int(width),
    "indent": lambda s, width=4, first=False, blank=False: (
        len(str(s))
        + (str(s).count("\n") + 1) * int(len(width) if isinstance(width, str) else width)
    ),
    "wordwrap": lambda s, width=79, break_long_words=True, wrapstring=None, **_: (
        len(str(s)) * len(wrapstring or "\n")
    ),
    "format": lambda value, *args, **kwargs: _printf_size(str(value), kwargs or args),
    "replace": lambda s, old, new, count=None: _replace_size(str(s), str(old), str(new), count),
    "join": lambda value, d="", attribute=None: len(str(d)) * len(value) + _weight(value),
    "tojson": _json_size,
    "batch": lambda value, linecount, fill_with=None: (
        0 if fill_with is None else int(linecount) * (1 + _weight(fill_with))
    ),
    "slice": lambda value, slices, fill_with=None: int(slices),
    "urlize": lambda value, trim_url_limit=None, nofollow=False, target=None, rel=None, **_: (
        len(str(value).split()) * (len(str(target or "")) + len(str(rel or "")))
    ),
}


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func``, sized first from its arguments when they can multiply its output, its result
    charged. As a context filter, Jinja never runs it at compile time, outside the budgets."""
    lead = getattr(getattr(func, "jinja_pass_arg", None), "name", "")
    size = _FILTER_SIZES.get(name)

    @jinja2.pass_context
    def run(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        value = list(value) if name == "join" else value  # a generator is measured as a list
        if not isinstance(value, str):  # a container is measured before it can be printed
            _check(_weight(value), f"|{name} input")
        if size is not None:
            _check(size(value, *args, **kwargs), f"|{name}")
        if lead:  # what the filter asked for with @pass_context and the like
            first = {"context": context, "eval_context": context.eval_ctx}
            args = (first.get(lead, context.environment), value, *args)
        else:
            args = (value, *args)
        return _built(func(*args, **kwargs), f"|{name}")

    return run


def _finalize(value: Any) -> Any:
    _check(_weight(value), "output")  # `{{ x }}` prints x: a container is measured first
    return value


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _check(n * max * 16, "lipsum()")  # n paragraphs of up to max words of up to 14 letters
    return generate_lorem_ipsum(n, html, min, max)


class _BoundedFormatter(sandbox.SandboxedFormatter):
    """str.format whose fields pay for their value and their widths before being formatted."""

    left = MAX_RENDERED_CHARS

    def pay(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise SecurityError(f"format() would build more than {MAX_RENDERED_CHARS} characters")

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        self.pay(_weight(value))
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self.pay(sum(int(n) for n in re.findall(r"\d+", format_spec)))  # fill, width, precision
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, sandbox.SandboxedEscapeFormatter):
    pass


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` and slices, which Jinja never intercepts, into call_binop calls."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # `a ~ b ~ c` is joined by call_binop, which sizes it first like `+`
        self.write("environment.call_binop(context, '~', (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), None)")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        # a slice is a copy: never bigger than its source, but charged so copies cannot pile up
        sliced = isinstance(node.arg, nodes.Slice)
        self.write("environment.call_binop(context, '[:]', " if sliced else "")
        super().visit_Getitem(node, frame)
        self.write(", None)" if sliced else "")


class _BoundedSandbox(sandbox.ImmutableSandboxedEnvironment):
    """The immutable sandbox, in which nothing is built bigger than MAX_RENDERED_CHARS."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = _BoundedCodeGenerator

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        size = 0
        if operator_ == "[:]":
            return _built(left, "slice")
        if operator_ == "~":
            _check(sum(map(_weight, left)), "~")
            return _built((markup_join if context.eval_ctx.autoescape else str_join)(left), "~")
        if operator_ == "**" and isinstance(right, int | float):
            if abs(right) > _MAX_POWER_EXPONENT:
                raise SecurityError("exponent too large")
            if isinstance(left, int) and isinstance(right, int):  # about 1 digit per 3 bits
                size = left.bit_length() * right // 3
        elif operator_ == "*" and isinstance(left, int) and isinstance(right, int):
            size = (left.bit_length() + right.bit_length()) // 3
        elif operator_ == "*":  # repetition, either way round
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                    size = _weight(seq) * count
        elif operator_ == "+" and isinstance(left, str | bytes | list | tuple):
            size = _weight(left) + _weight(right)
        elif operator_ == "%" and isinstance(left, str | bytes):
            size = _printf_size(left, right)
        _check(size, operator_)
        return _built(self.binop_table[operator_](left, right), operator_)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _current().step()  # a macro, caller(), loop(...) or method call
        target, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if name == "join" and isinstance(target, str | bytes) and args:
            args = (list(args[0]), *args[1:])  # a generator is measured as a list
        _check(_call_size(target, name, args, kwargs), f"{name}()")
        return _built(super().call(__context, __obj, *args, **kwargs), f"{name}()")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # str.format and format_map run on a fresh _BoundedFormatter for every call
        fmt, name = getattr(value, "__self__", None), getattr(value, "__name__", "")
        if not isinstance(fmt, str) or name not in ("format", "format_map"):
            return None

        def run(*args: Any, **kwargs: Any) -> str:
            formatter = (
                _BoundedEscapeFormatter(self, escape=fmt.escape)
                if isinstance(fmt, Markup)
                else _BoundedFormatter(self)
            )
            formatter.pay(len(fmt))
            if name == "format_map":
                (kwargs,), args = args, ()
            return type(fmt)(formatter.vformat(fmt, args, kwargs))

        return update_wrapper(run, value)

    def concat(self, parts: Iterable[str]) -> str:
        # template, block and macro output is joined only while it stays within the bound
        kept: list[str] = []
        size = 0
        for part in parts:
            size += len(part)
            _check(size, "output")
            kept.append(part)
        return _built("".join(kept), "output")

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # every {% for %} iterates through _counted, so each iteration is a step
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _STEPS, [], [], None, None, lineno=loop.lineno)
        return tree


_ENV = _BoundedSandbox(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
    optimized=False,  # so no template code runs at compile time, outside the budgets
)
_ENV.globals.update(range=_bounded_range, lipsum=_bounded_lipsum)
_ENV.filters.update({name: _guarded_filter(name, f) for name, f in _ENV.filters.items()})
_ENV.filters[_STEPS] = _counted


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """Compiling costs more than rendering; versions are immutable, so cache by source."""
    return _ENV.from_string(source)


# What a template of text and plain substitutions (``{{ name }}``, ``{{ a.b }}``, ``{{ a[0] }}``)
# is made of: no loop, call, filter, test, operator or slice.
_STRAIGHT_NODES = (
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
)


@functools.lru_cache(maxsize=1024)
def straight(source: str) -> bool:
    """Whether ``source`` is text and plain substitutions only: its render does no work beyond
    copying its variables' values (each measured by ``_finalize`` first), so it costs about the
    size of its input, like parsing the request did, and needs no render thread."""
    try:
        ast = parse(source)
    except jinja2.TemplateSyntaxError:
        return False
    return all(isinstance(node, _STRAIGHT_NODES) for node in ast.find_all(nodes.Node))


def parse(source: str) -> nodes.Template:
    """Parse a template (raises jinja2.TemplateSyntaxError)."""
    return _ENV.parse(source)


def render_source(
    source: str, variables: Mapping[str, Any], *, seconds: float = RENDER_SECONDS
) -> str:
    """Render one template within fresh budgets, ``seconds`` of wall-clock time included
    (raises Jinja2 and Python errors as they come; RenderBudgetExceeded when it was stopped).
    Compiling is not counted: it is bounded by the size of the source, and cached."""
    template = _compiled(source)
    token = _budget.set(_Budget(deadline=time.monotonic() + seconds))
    try:
        return template.render(dict(variables))
    finally:
        _budget.reset(token)
