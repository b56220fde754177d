"""The trace page's markup for each span: its waterfall row and its details panel.

Built here with f-strings rather than in ``trace.html``: a trace of a few hundred spans through
the template engine spent most of the page's time in per-span expression overhead (attribute
lookups, filters, escaping each fragment). Every value from a span is escaped (``_e``), exactly
as the template's autoescape would; the page around these pieces stays in the template."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from markupsafe import Markup, escape

from prompt_ledger.console.waterfall import MAX_INDENT, Bar, Waterfall
from prompt_ledger.console.web import money, number, pretty, when
from prompt_ledger.records import SpanView


def _e(value: object) -> str:
    return str(escape(value))


def _version_link(s: SpanView) -> str:
    name = _e(s.prompt_name)
    href = f"/prompts/{_e(quote(str(s.prompt_name), safe='/'))}/versions/{_e(s.version_number)}"
    return f'<a href="{href}">{name} v{_e(s.version_number)}</a>'


def _meta(bar: Bar[SpanView]) -> str:
    s = bar.span
    parts = [_e(s.kind)]
    if s.service_name:
        parts.append(f" · {_e(s.service_name)}")
    if s.status == "error":
        parts.append(' · <strong class="st-failed">error</strong>')
    if bar.orphan:
        parts.append(" · parent not received")
    if s.execution_id:
        parts.append(
            f' · <a href="/executions/{s.execution_id}">execution {str(s.execution_id)[:8]}</a>'
        )
    if s.prompt_name:
        parts.append(f" · {_version_link(s)}")
    if s.cost_usd is not None:
        parts.append(f" · {_e(money(s.cost_usd))}")
    return "".join(parts)


def _grid(waterfall: Waterfall[SpanView]) -> str:
    """The axis' tick lines, the same behind every bar."""
    return "".join(
        f'<line x1="{t.offset}%" x2="{t.offset}%" y1="0" y2="100%"></line>' for t in waterfall.ticks
    )


def rows(waterfall: Waterfall[SpanView]) -> Markup:
    """The waterfall table's rows, ``row-1`` ... in the bars' order."""
    grid = _grid(waterfall)
    out: list[str] = []
    for i, bar in enumerate(waterfall.bars, 1):
        s = bar.span
        name, start, took = _e(s.name), _e(bar.start_label), _e(bar.duration_label)
        more = " depth-more" if bar.depth > MAX_INDENT else ""  # depth-0 ... depth-12 in the CSS
        error = " error" if s.status == "error" else ""
        out.append(
            f'  <tr id="row-{i}">\n'
            f'    <td class="name depth-{bar.indent}{more}">\n'
            f'      <a href="#span-{i}" title="{name}">{name}</a>\n'
            f'      <span class="meta">{_meta(bar)}</span>\n'
            "    </td>\n"
            "    <td>\n"
            f'      <svg class="track" role="img" aria-label="{name}: starts at {start}, '
            f'lasts {took}">\n'
            f"        {grid}\n"
            f'        <rect class="bar k-{_e(s.kind)}{error}" x="{bar.offset}%" '
            f'width="{bar.width}%" y="15%" height="70%" rx="2">'
            f"<title>{name}: {start} + {took}</title></rect>\n"
            "      </svg>\n"
            "    </td>\n"
            f'    <td class="num">{took}</td>\n'
            "  </tr>\n"
        )
    return Markup("".join(out))  # noqa: S704  # every span value above went through _e


def _facts(bar: Bar[SpanView]) -> Iterator[str]:
    s = bar.span
    yield f'<div><dt>Span id</dt><dd class="mono">{_e(s.span_id)}</dd></div>'
    missing = " (not received)" if bar.orphan else ""
    parent = _e(s.parent_span_id or "—")
    yield f'<div><dt>Parent</dt><dd class="mono">{parent}{missing}</dd></div>'
    if s.service_name:
        yield f"<div><dt>Service</dt><dd>{_e(s.service_name)}</dd></div>"
    start = f"{_e(when(s.start_time))} (+{_e(bar.start_label)})"
    yield f"<div><dt>Start</dt><dd>{start}</dd></div>"
    if s.model:
        yield f"<div><dt>Model</dt><dd>{_e(s.model)}</dd></div>"
    if s.prompt_tokens is not None or s.completion_tokens is not None:
        tokens = (
            f"{_e(number(s.prompt_tokens))} prompt + {_e(number(s.completion_tokens))} completion"
        )
        yield f"<div><dt>Tokens</dt><dd>{tokens}</dd></div>"
    if s.cost_usd is not None:
        yield f"<div><dt>Cost</dt><dd>{_e(money(s.cost_usd))}</dd></div>"
    if s.execution_id:
        link = f'<a class="mono" href="/executions/{s.execution_id}">{s.execution_id}</a>'
        yield f"<div><dt>Execution</dt><dd>{link}</dd></div>"
    if s.prompt_name:
        yield f"<div><dt>Prompt version</dt><dd>{_version_link(s)}</dd></div>"


def _payloads(s: SpanView) -> Iterator[str]:
    if s.error_message:
        yield f'  <div class="alert error">{_e(s.error_message)}</div>\n'
    if s.attributes:
        yield f"  <h3>Attributes</h3><pre>{_e(pretty(s.attributes))}</pre>\n"
    if s.events:
        yield f"  <h3>Events ({len(s.events)})</h3><pre>{_e(pretty(s.events))}</pre>\n"
    if s.input is not None:
        yield f"  <h3>Input</h3><pre>{_e(pretty(s.input))}</pre>\n"
    if s.output is not None:
        yield f"  <h3>Output</h3><pre>{_e(pretty(s.output))}</pre>\n"


def details(waterfall: Waterfall[SpanView]) -> Markup:
    """A panel per span (``span-1`` ...), open when the span failed."""
    out: list[str] = []
    for i, bar in enumerate(waterfall.bars, 1):
        s = bar.span
        failed = s.status == "error"
        badge = " st-failed" if failed else (" st-succeeded" if s.status == "ok" else "")
        facts = "\n    ".join(_facts(bar))
        out.append(
            f'<details class="panel span-detail" id="span-{i}"{" open" if failed else ""}>\n'
            f"  <summary><strong>{_e(s.name)}</strong> "
            f'<span class="badge{badge}">{_e(s.status)}</span> '
            f'<span class="muted">{_e(s.kind)} · {_e(bar.duration_label)}</span></summary>\n'
            '  <dl class="facts">\n'
            f"    {facts}\n"
            "  </dl>\n"
            f"{''.join(_payloads(s))}"
            f'  <p><a href="#row-{i}">↑ Back to the waterfall</a></p>\n'
            "</details>\n"
        )
    return Markup("".join(out))  # noqa: S704  # every span value above went through _e
