# Acceptance test of hearth's Jinja engine: every chat template in ../shared/templates is rendered
# over realistic conversations by Python's jinja2 (configured as Hugging Face's apply_chat_template)
# and by `hearth template`; outputs must be byte-identical, and where jinja2 raises, hearth must too.
import datetime
import glob
import json
import os
import subprocess
import tempfile

import pytest

jinja2 = pytest.importorskip("jinja2")
from jinja2.ext import Extension, loopcontrols  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

ROOT = os.environ.get("HEARTH_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(ROOT, "..", "shared"))
HEARTH_BIN = os.environ.get("HEARTH_BIN", os.path.join(ROOT, "build", "bin", "hearth"))
TEMPLATES = sorted(glob.glob(os.path.join(SHARED, "templates", "*.jinja")))
NOW = 1763726400  # fixed clock for strftime_now (2025-11-21 12:00 UTC), the same for both engines

# Templates or (template, conversation) pairs left out, with the reason. Keep this empty if possible.
EXCLUDED = {}


class GenerationTag(Extension):
    """Hugging Face's AssistantTracker: `{% generation %}...{% endgeneration %}` renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def hf_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(NOW).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web & return <top> results.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 3}},
                "required": ["query"],
            },
        },
    },
]

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
USER1 = {"role": "user", "content": "Hello! What's 2+2?"}
ASSIST1 = {"role": "assistant", "content": "2+2 is 4."}
USER2 = {"role": "user", "content": "Thanks — and the capital of France? Ünïcödé ✓"}
ASSIST2 = {"role": "assistant", "content": "The capital of France is Paris."}
TOOL_CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call_abc123",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        }
    ],
}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call_abc123", "name": "get_weather", "content": '{"temp": 21, "sky": "clear"}'}
USER_TOOL = {"role": "user", "content": "What's the weather in Paris?"}
ASSIST_AFTER_TOOL = {"role": "assistant", "content": "It is 21°C and clear in Paris."}
ASSIST_REASONING = {"role": "assistant", "content": "It is 4.", "reasoning_content": "The user asks 2+2, which is 4."}

CONVERSATIONS = {
    "system_user": dict(messages=[SYSTEM, USER1], add_generation_prompt=True),
    "user_only": dict(messages=[USER1], add_generation_prompt=True),
    "system_user_nogen": dict(messages=[SYSTEM, USER1], add_generation_prompt=False),
    "multi_turn": dict(messages=[SYSTEM, USER1, ASSIST1, USER2], add_generation_prompt=True),
    "multi_turn_final_assistant": dict(messages=[USER1, ASSIST1, USER2, ASSIST2], add_generation_prompt=False),
    "tools": dict(messages=[SYSTEM, USER_TOOL, TOOL_CALL, TOOL_RESULT], tools=TOOLS, add_generation_prompt=True),
    "tools_answered": dict(
        messages=[USER_TOOL, TOOL_CALL, TOOL_RESULT, ASSIST_AFTER_TOOL], tools=TOOLS, add_generation_prompt=False
    ),
    "tools_no_call": dict(messages=[SYSTEM, USER_TOOL], tools=TOOLS, add_generation_prompt=True),
    "no_thinking": dict(messages=[SYSTEM, USER1, ASSIST1, USER2], add_generation_prompt=True, enable_thinking=False),
    "thinking_reasoning": dict(messages=[USER1, ASSIST_REASONING, USER2], add_generation_prompt=True, enable_thinking=True),
}


def context_for(conv):
    ctx = {"bos_token": "<s>", "eos_token": "</s>", "tools": None, "documents": None}
    ctx.update(json.loads(json.dumps(conv)))  # deep copy
    return ctx


def render_jinja2(source, ctx):
    try:
        return "ok", hf_environment().from_string(source).render(**ctx)
    except Exception as e:  # noqa: BLE001 - any jinja2 failure must be a hearth failure too
        return "error", f"{type(e).__name__}: {e}"


def render_hearth(path, ctx):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(ctx, f, ensure_ascii=False)
        ctx_path = f.name
    try:
        p = subprocess.run(
            [HEARTH_BIN, "template", "--file", path, "--context-json", ctx_path, "--now", str(NOW)],
            capture_output=True,
            timeout=60,
        )
    finally:
        os.unlink(ctx_path)
    if p.returncode == 0:
        return "ok", p.stdout.decode("utf-8")
    assert p.returncode == 2, f"hearth exited {p.returncode}: {p.stderr.decode(errors='replace')}"
    return "error", p.stderr.decode("utf-8", errors="replace").strip()


CASES = [(t, c) for t in TEMPLATES for c in CONVERSATIONS]


@pytest.mark.skipif(not os.path.exists(HEARTH_BIN), reason="hearth binary not built")
@pytest.mark.parametrize("template,conversation", CASES, ids=[f"{os.path.basename(t)[:-6]}-{c}" for t, c in CASES])
def test_template_matches_jinja2(template, conversation):
    name = os.path.basename(template)
    if name in EXCLUDED or (name, conversation) in EXCLUDED:
        pytest.skip(EXCLUDED.get(name) or EXCLUDED[(name, conversation)])
    with open(template, encoding="utf-8") as f:
        source = f.read()
    ctx = context_for(CONVERSATIONS[conversation])
    want_kind, want = render_jinja2(source, ctx)
    got_kind, got = render_hearth(template, ctx)
    if want_kind == "error":
        assert got_kind == "error", f"jinja2 raised ({want}) but hearth rendered:\n{got[:2000]}"
    else:
        assert got_kind == "ok", f"hearth failed: {got}"
        assert got == want


def test_all_templates_present():
    assert len(TEMPLATES) >= 50
