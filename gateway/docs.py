"""`GET /docs`: the OpenAPI document rendered as one self-contained HTML page.

Rendered on the server from the same dictionary as /openapi.json, with inline CSS and no
script, because the page must work on machines with no internet access (no CDN).
"""

from __future__ import annotations

from html import escape

from gateway.openapi import Schema

_CSS = """
:root { --ink:#1d1d1f; --muted:#6e6e73; --line:#e3e3e8; --bg:#fafafa; --accent:#7a5c3e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:24px 40px; }
header h1 { margin:0 0 4px; font-size:24px; letter-spacing:.02em; }
header p { margin:6px 0 0; color:var(--muted); max-width:900px; }
.layout { display:flex; align-items:flex-start; }
nav { position:sticky; top:0; width:260px; flex:none; max-height:100vh; overflow:auto;
      padding:20px 16px 40px 40px; font-size:13px; }
nav h3 { font-size:11px; text-transform:uppercase; letter-spacing:.08em; color:var(--muted);
         margin:18px 0 6px; }
nav a { display:block; color:var(--ink); text-decoration:none; padding:2px 0; }
nav a:hover { color:var(--accent); }
main { flex:1; min-width:0; padding:8px 40px 60px 16px; max-width:1100px; }
h2 { font-size:20px; margin:32px 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
.op { background:#fff; border:1px solid var(--line); border-radius:8px; margin:14px 0; padding:16px 20px; }
.op h4 { margin:0; font-size:15px; font-weight:600; display:flex; gap:10px; align-items:center;
         flex-wrap:wrap; }
.verb { font:600 12px/1 ui-monospace, SFMono-Regular, Menlo, monospace; color:#fff; border-radius:4px;
        padding:5px 8px; min-width:58px; text-align:center; }
.get { background:#2f7d4f; } .post { background:#2a5db0; } .patch { background:#8a5a00; }
.put { background:#6b4fa0; } .delete { background:#b03a2e; } .other { background:#555; }
code, .path { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:13px; }
.path { font-weight:500; }
.summary { color:var(--muted); margin:6px 0 0; }
table { width:100%; border-collapse:collapse; margin:10px 0 4px; font-size:13px; }
th { text-align:left; font-weight:600; color:var(--muted); border-bottom:1px solid var(--line);
     padding:4px 8px 4px 0; }
td { border-bottom:1px solid #f0f0f3; padding:5px 8px 5px 0; vertical-align:top; }
td.name { white-space:nowrap; }
.label { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted);
         margin:12px 0 0; }
.req { color:#b03a2e; font-size:11px; margin-left:4px; }
.ro { color:var(--muted); font-size:11px; margin-left:4px; }
a.type { color:var(--accent); }
.schema { background:#fff; border:1px solid var(--line); border-radius:8px; margin:12px 0; padding:12px 20px; }
.schema h4 { margin:0; font:600 14px ui-monospace, SFMono-Regular, Menlo, monospace; }
p.prose { margin:8px 0; max-width:860px; }
ul { margin:6px 0; padding-left:22px; font-size:13px; }
"""


def _safe_id(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "-" for c in text)


def _anchor(name: str) -> str:
    return "schema-" + _safe_id(name)


def _op_anchor(op_id: str) -> str:
    return "op-" + _safe_id(op_id)


def _type(schema: Schema) -> str:
    """A short, linked description of a schema's type."""
    if not schema:
        return "any"
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        short = name.rsplit(".", 1)[-1]
        return f'<a class="type" href="#{_anchor(name)}" title="{escape(name)}">{escape(short)}</a>'
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of string → {_type(schema['additionalProperties'])}"
    text = " | ".join(escape(str(k)) for k in kind) if isinstance(kind, list) else escape(str(kind or "any"))
    if schema.get("format"):
        text += f" <code>({escape(schema['format'])})</code>"
    if schema.get("enum"):
        text += ": " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    return text


def _parameters(params: list[Schema]) -> str:
    if not params:
        return ""
    rows = []
    for p in params:
        req = '<span class="req">required</span>' if p.get("required") else ""
        rows.append(
            f'<tr><td class="name"><code>{escape(p["name"])}</code>{req}</td>'
            f"<td>{escape(p['in'])}</td><td>{_type(p.get('schema', {}))}</td>"
            f"<td>{_inline_code(p.get('description', ''))}</td></tr>"
        )
    return (
        '<p class="label">Parameters</p><table><tr><th>name</th><th>in</th><th>type</th>'
        "<th>description</th></tr>" + "".join(rows) + "</table>"
    )


def _properties(schema: Schema) -> str:
    props = schema.get("properties") or {}
    if not props:
        return '<p class="summary">No fields.</p>'
    required = set(schema.get("required", []))
    rows = []
    for name, prop in props.items():
        marks = ""
        if name in required:
            marks += '<span class="req">required</span>'
        if prop.get("readOnly"):
            marks += '<span class="ro">output only</span>'
        rows.append(
            f'<tr><td class="name"><code>{escape(name)}</code>{marks}</td>'
            f"<td>{_type(prop)}</td><td>{_inline_code(prop.get('description', ''))}</td></tr>"
        )
    return "<table><tr><th>field</th><th>type</th><th>description</th></tr>" + "".join(rows) + "</table>"


def _body(schema: Schema) -> str:
    if "$ref" in schema or schema.get("type") != "object":
        return f'<p class="label">Request body</p><p>{_type(schema)}</p>'
    return '<p class="label">Request body</p>' + _properties(schema)


def render_docs(spec: Schema) -> str:
    info = spec.get("info", {})
    by_tag: dict[str, list[tuple[str, str, Schema]]] = {}
    for path, item in spec.get("paths", {}).items():
        for verb, op in item.items():
            for tag in op.get("tags") or ["default"]:
                by_tag.setdefault(tag, []).append((path, verb, op))

    tag_descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    nav: list[str] = []
    sections: list[str] = []
    for tag in sorted(by_tag):
        nav.append(f"<h3>{escape(tag)}</h3>")
        sections.append(f'<h2 id="tag-{_safe_id(tag)}">{escape(tag)}</h2>')
        sections.append(_prose(tag_descriptions.get(tag, "")))
        for path, verb, op in by_tag[tag]:
            op_id = op.get("operationId", f"{verb} {path}")
            nav.append(f'<a href="#{_op_anchor(op_id)}">{escape(op.get("summary") or op_id)}</a>')
            css = verb if verb in ("get", "post", "patch", "put", "delete") else "other"
            parts = [
                f'<section class="op" id="{_op_anchor(op_id)}">',
                f'<h4><span class="verb {css}">{escape(verb.upper())}</span>'
                f'<span class="path">{escape(path)}</span></h4>',
                f'<p class="summary">{escape(op.get("summary", ""))}</p>',
                _prose(op.get("description", "")),
                _parameters(op.get("parameters", [])),
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None:
                parts.append(_body(body))
            ok = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
            if ok is not None:
                parts.append(f'<p class="label">Response</p><p>{_type(ok)}</p>')
            parts.append("</section>")
            sections.append("".join(parts))

    schemas = spec.get("components", {}).get("schemas", {})
    nav.append("<h3>Schemas</h3>")
    sections.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in schemas.items():
        nav.append(f'<a href="#{_anchor(name)}">{escape(name.rsplit(".", 1)[-1])}</a>')
        described = _prose(schema.get("description", ""))
        if schema.get("type") == "object" and "properties" in schema:
            inner = described + _properties(schema)
        elif schema.get("enum"):
            values = ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
            inner = described + f"<p>string, one of {values}</p>"
        else:
            inner = described + f"<p>{_type(schema)}</p>"
        sections.append(f'<section class="schema" id="{_anchor(name)}"><h4>{escape(name)}</h4>{inner}</section>')

    intro = _prose(info.get("description", ""))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(info.get('title', 'API'))} <small>{escape(info.get('version', ''))}</small></h1>"
        f'{intro}<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
        f"{escape(spec.get('openapi', ''))})</p></header>"
        f'<div class="layout"><nav>{"".join(nav)}</nav><main>{"".join(sections)}</main></div>'
        "</body></html>"
    )


def _inline_code(text: str) -> str:
    """Escape, then turn `backticks` into <code>."""
    pieces = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _prose(text: str) -> str:
    """Paragraphs separated by blank lines; lines starting with "- " become a list."""
    out: list[str] = []
    for paragraph in filter(None, (p.strip() for p in text.split("\n\n"))):
        lines = paragraph.split("\n")
        items = [line[2:] for line in lines if line.startswith("- ")]
        plain = [line for line in lines if not line.startswith("- ")]
        if plain:
            out.append(f'<p class="prose">{_inline_code(" ".join(plain))}</p>')
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline_code(item)}</li>" for item in items) + "</ul>")
    return "".join(out)
