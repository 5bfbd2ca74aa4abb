#!/usr/bin/python3
"""Renders a chat template with Python jinja2 exactly as Hugging Face transformers does: the oracle
for swarmkv's Jinja interpreter (src/tokenizer/jinja_*; tests in chat_template_golden_test.cc).

Usage: render_chat_template.py TEMPLATE_FILE CONTEXT_JSON_FILE
         prints {"ok": true, "text": ...} or {"ok": false, "error": ...} as JSON on stdout;
       render_chat_template.py --batch JOBS_JSON_FILE
         JOBS is [{"template": path, "context": {...}}, ...]; prints the list of results.
The context's keys become template variables; strftime_now formats the pinned date
2026-01-02 03:04:05 (the C++ test pins the same). Needs Debian's python3-jinja2 (run with
/usr/bin/python3)."""
import datetime
import json
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

PINNED_NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


class GenerationTracker(Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return PINNED_NOW.strftime(format)


_ENV = None
_COMPILED = {}


def render(source, context):
    global _ENV
    try:
        if _ENV is None:
            _ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                 extensions=[GenerationTracker, loopcontrols])
            _ENV.filters["tojson"] = tojson
            _ENV.globals["raise_exception"] = raise_exception
            _ENV.globals["strftime_now"] = strftime_now
        if source not in _COMPILED:
            _COMPILED[source] = _ENV.from_string(source)
        return {"ok": True, "text": _COMPILED[source].render(**context)}
    except Exception as e:  # a template error of any kind: the C++ side must fail too
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def main():
    if sys.argv[1] == "--batch":
        with open(sys.argv[2], encoding="utf-8") as f:
            jobs = json.load(f)
        sources = {}
        out = []
        for job in jobs:
            path = job["template"]
            if path not in sources:
                with open(path, encoding="utf-8") as f:
                    sources[path] = f.read()
            out.append(render(sources[path], job["context"]))
    else:
        with open(sys.argv[1], encoding="utf-8") as f:
            source = f.read()
        with open(sys.argv[2], encoding="utf-8") as f:
            context = json.load(f)
        out = render(source, context)
    sys.stdout.write(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
