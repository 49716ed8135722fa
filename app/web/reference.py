"""`GET /api/reference`: the API reference as one HTML page, rendered on the server from the
OpenAPI document (`app.web.openapi`): each operation with its role, parameters, body and answers,
then each schema. No script and no external asset: a stylesheet inline, links within the page.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from jinja2 import DictLoader, Environment, StrictUndefined
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.web import openapi

_REF_PREFIX: Final = "#/components/schemas/"

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ spec.info.title }} {{ spec.info.version }}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 62rem; padding: 1rem 2rem;
  color: #1d232a; }
code, .path { font-family: ui-monospace, monospace; font-size: 0.92em; }
h2 { border-bottom: 2px solid #d8dee4; padding-bottom: 0.2rem; margin-top: 2.5rem; }
section.op { border: 1px solid #d8dee4; border-radius: 6px; padding: 0.4rem 1rem 0.8rem;
  margin: 1rem 0; }
section.op.deprecated { opacity: 0.75; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; }
.get { color: #0a6b2f; } .post { color: #0b4fa8; } .delete { color: #a11d1d; }
.role, .badge { font-size: 0.8em; border-radius: 3px; padding: 0 0.35rem; background: #eef1f4; }
.badge { background: #fff1c2; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.2rem 0.5rem;
  border-bottom: 1px solid #eef1f4; }
th { font-weight: 600; font-size: 0.9em; }
nav ul { columns: 2; }
.doc { white-space: pre-line; }
</style>
</head>
<body>
<h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>{{ spec.info.description | prose }}</p>
<p>Base path <code>{{ base }}</code>. Every request needs <code>Authorization: Bearer
&lt;token&gt;</code>. The machine-readable document: <code>GET {{ base }}/openapi.json</code>.</p>
<nav><ul>
{% for op in operations %}
<li><a href="#{{ op.id }}"><span class="method {{ op.method }}">{{ op.method | upper }}</span>
<span class="path">{{ op.path }}</span></a>{% if op.deprecated %}
<span class="badge">deprecated</span>{% endif %}</li>
{% endfor %}
</ul></nav>

<h2>Operations</h2>
{% for op in operations %}
<section class="op{% if op.deprecated %} deprecated{% endif %}" id="{{ op.id }}">
<h3><span class="method {{ op.method }}">{{ op.method | upper }}</span>
<span class="path">{{ base }}{{ op.path }}</span>
<span class="role">{{ op.role }}</span>{% if op.deprecated %}
<span class="badge">deprecated</span>{% endif %}</h3>
<p><strong>{{ op.summary }}</strong></p>
<p class="doc">{{ op.description | prose }}</p>
{% if op.parameters %}
<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr>
{% for p in op.parameters %}
<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ p.schema | type_of }}</td>
<td>{{ "yes" if p.required else "no" }}</td><td>{{ p.get("description", "") | prose }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if op.body %}
<p>Body (<code>application/json</code>): {{ op.body | type_of }}</p>
{% endif %}
<table><tr><th>status</th><th>answer</th><th>meaning</th><th>then</th></tr>
{% for status, answer in op.responses.items() %}
<tr><td>{{ status }}</td><td>{{ answer | answer_type }}</td>
<td>{{ answer.description | prose }}</td>
<td>{% for link in answer.get("links", {}).values() %}<a href="#{{ link.operationId }}">
{{ link.description }}</a>{% if not loop.last %}; {% endif %}{% endfor %}</td></tr>
{% endfor %}
</table>
</section>
{% endfor %}

<h2>Schemas</h2>
{% for name, schema in schemas.items() %}
<section id="schema-{{ name }}">
<h3><code>{{ name }}</code></h3>
{% if schema.get("description") %}<p>{{ schema.description | prose }}</p>{% endif %}
{% if schema.get("properties") %}
<table><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr>
{% for field, prop in schema.properties.items() %}
<tr><td><code>{{ field }}</code></td><td>{{ prop | type_of }}</td>
<td>{{ "yes" if field in schema.get("required", []) else "no" }}</td>
<td>{{ prop.get("description", "") | prose }}</td></tr>
{% endfor %}
</table>
{% else %}
<p>{{ schema | type_of }}</p>
{% endif %}
</section>
{% endfor %}
</body>
</html>
"""


def type_of(schema: Mapping[str, Any]) -> Markup:
    """A schema in a few words, with links to the named schemas it uses."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(_REF_PREFIX)
        return Markup('<a href="#schema-{0}"><code>{0}</code></a>').format(name)
    if "anyOf" in schema:
        return Markup(" | ").join(type_of(option) for option in schema["anyOf"])
    if "const" in schema:
        return Markup("<code>{}</code>").format(json.dumps(schema["const"]))
    if "enum" in schema:
        return Markup("one of ") + Markup(", ").join(
            Markup("<code>{}</code>").format(json.dumps(value)) for value in schema["enum"]
        )
    kind = str(schema.get("type", "any value"))
    if kind == "array":
        return Markup("array of ") + type_of(schema.get("items", {}))
    described = escape(kind)
    if "format" in schema:
        described += Markup(" ({})").format(schema["format"])
    if "minimum" in schema:
        described += Markup(" &ge; {}").format(schema["minimum"])
    if "pattern" in schema:
        described += Markup(" matching <code>{}</code>").format(schema["pattern"])
    return described


_CODE: Final = re.compile(r"`([^`]+)`")


def prose(text: str) -> Markup:
    """Text with its `code` spans set as code."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


def answer_type(answer: Mapping[str, Any]) -> Markup:
    """What an answer holds: its schema, or nothing."""
    content = answer.get("content") or {}
    if not content:
        return Markup("no content")
    media, value = next(iter(content.items()))
    return type_of(value.get("schema", {})) + Markup(" <small>{}</small>").format(media)


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=DictLoader({"reference.html": PAGE}), autoescape=True, undefined=StrictUndefined
    )
    environment.filters.update(type_of=type_of, answer_type=answer_type, prose=prose)
    return environment


def _resolved(spec: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """`node`, or what its `$ref` within `spec` names."""
    if "$ref" not in node:
        return node
    for part in str(node["$ref"]).removeprefix("#/").split("/"):
        spec = spec[part]
    return spec


def _operations(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            found.append(
                {
                    "id": operation["operationId"],
                    "method": method,
                    "path": path,
                    "role": operation["x-flexhook-role"],
                    "summary": operation["summary"],
                    "description": operation.get("description", ""),
                    "deprecated": operation.get("deprecated", False),
                    "parameters": operation.get("parameters", []),
                    "body": body["schema"] if body else None,
                    "responses": {
                        status: _resolved(spec, answer)
                        for status, answer in operation["responses"].items()
                    },
                }
            )
    return found


def page(spec: Mapping[str, Any]) -> str:
    """The reference page of an OpenAPI document."""
    return (
        _environment()
        .get_template("reference.html")
        .render(
            spec=spec,
            base=spec["servers"][0]["url"],
            operations=_operations(spec),
            schemas=spec["components"]["schemas"],
        )
    )


@functools.cache
def served() -> str:
    """The reference page of the document `GET /api/openapi.json` serves: built once."""
    return page(json.loads(openapi.served()))


async def get_reference(request: Request) -> Response:
    """This reference, as a page of HTML."""
    return HTMLResponse(served())
