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

TOOL_CALLS_TWO = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
        {"id": "call_2", "type": "function", "function": {"name": "search", "arguments": {"query": "Oslo news", "limit": 2}}},
    ],
}
TOOL_RESULTS_TWO = [
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "-3 and snowing"},
    {"role": "tool", "tool_call_id": "call_2", "name": "search", "content": "[]"},
]

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
    "tools_two_calls_null_content": dict(
        messages=[SYSTEM, USER_TOOL, TOOL_CALLS_TWO, *TOOL_RESULTS_TWO], tools=TOOLS, add_generation_prompt=True
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


# Small templates exercising one feature each, compared with jinja2 the same way.
SNIPPET_CONTEXT = {
    "xs": [10, 20, 30, 40],
    "m": {"role": "user", "content": "Hello World", "n": None},
    "msgs": [{"role": "user", "c": "a"}, {"role": "bot", "c": "b", "x": 1}, {"role": "user", "c": "c"}],
    "s": "  Mixed Case, with ünïcödé ✓  ",
    "f": 2.675,
    "empty": [],
}
SNIPPETS = [
    "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
    "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 100000.0 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }}",
    "{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 2) }} {{ () }}",
    "{{ \"it's\" }} {{ [\"it's\"] }} {{ ['a\\nb', 'q\"', \"'\\\"\"] }} {{ ['\\x01', '\\\\'] }}",
    "{% if true %}\n  yes\n{% endif %}\nend",
    "  {% if true %}x{% endif %}  \n",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "{{ 'a' }}\n{{ 'b' }}\n",
    "{% for i in [1,2] %}\n    {{ i }}\n{% endfor %}",
    "{% for i in [1,2] +%}\n  {{ i }}\n  {%+ if i %}x{% endif %}\n{% endfor %}",
    "{# c #}\n  {# c2 #}\nX{#- c3 -#}  Y",
    "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }},{% endfor %}",
    "{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}",
    "{% for x in empty %}a{% else %}empty{% endfor %}",
    "{% for x in xs if x > 15 %}{{ x }}{{ loop.length }}{% endfor %}",
    "{% for k, v in m.items() %}{{ k }}={{ v }} {% endfor %}{% for k in m %}{{ k }}{% endfor %}",
    "{% for x in xs %}{% if x == 20 %}{% continue %}{% endif %}{% if x == 40 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% set v = 0 %}{% for x in [1,2] %}{{ v }}{% set v = x %}{% endfor %}{{ v }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = (3, 4) %}{{ c }}",
    "{% set ns = namespace(n=0, s='') %}{% for x in xs %}{% set ns.n = ns.n + x %}{% set ns.s = ns.s ~ x %}{% endfor %}{{ ns.n }} {{ ns.s }}",
    "{% set block %}  inner {{ 1 }}{% endset %}[{{ block }}]{% set up | upper %}abc{% endset %}{{ up }}",
    "{% macro m(a, b='d', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, c=3) }}|{{ m(1, 2, 3) }}|{{ m() }}",
    "{% macro outer(x) %}[{{ caller() }}{{ x }}]{% endmacro %}{% call outer(5) %}body{% endcall %}",
    "{% filter upper %}abc{{ 'd' }}{% endfilter %}{% with x = 5 %}{{ x }}{% endwith %}{{ x }}",
    "{{ s | trim }}|{{ 'xxhixx' | trim('x') }}|{{ s | length }}|{{ xs | count }}|{{ s | upper }}|{{ s | lower }}",
    "{{ m | tojson }}|{{ msgs | tojson(indent=2) }}|{{ m | tojson(separators=(',', ':')) }}|{{ s | tojson }}",
    "{{ {'a': [1, {'b': none}], 'c': {}, 'd': [], 'e': 1.5, 'f': true, 'g': '<&>'} | tojson(indent=4) }}",
    "{{ 'a\"\\\\\n\t\\x07' | tojson }} {{ [1.0, 1e100, -2] | tojson }}",
    "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='c') | join(',') }}",
    "{{ msgs | rejectattr('x', 'defined') | list | length }} {{ msgs | selectattr('x') | list }} {{ msgs | map(attribute='x', default=0) | list }}",
    "{{ 'hello world-foo(bar' | title }} {{ 'hELLO' | capitalize }} {{ s.title() }}",
    "{{ 'aaa' | replace('a', 'b', 2) }} {{ nope | default('d') }} {{ '' | default('e', true) }} {{ 0 | d(5) }} {{ none | default('z') }}",
    "{{ xs | first }}{{ xs | last }}{{ [3,1,2] | sort | list }}{{ [3,1,2] | sort(reverse=true) }}{{ ['b','A','a'] | sort }}{{ msgs | sort(attribute='c', reverse=true) | map(attribute='c') | list }}",
    "{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int }} {{ '2.5' | float }} {{ -3 | abs }} {{ f | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ f | round(1, 'floor') }} {{ ' 7 ' | int }} {{ true | int }}",
    "{{ [1,2,1,'A','a'] | unique | list }} {{ xs | reverse | list }} {{ 'abc' | reverse }} {{ 'x' | list }}",
    "{{ {'b': 1, 'A': 2} | dictsort }} {{ xs | batch(3) | list }} {{ xs | batch(3, 0) | list }} {{ m | dictsort(by='value') if false else '' }}",
    "{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(3, blank=true) }}|{{ 'x' | indent('> ', first=true) }}",
    "{{ 'one two  three' | wordcount }} {{ '<a>' | e }} {{ '<a>' | safe }} {{ m | items | list }} {{ ('<' | safe) + '<' }} {{ '<' + ('&' | safe) }}",
    "{{ xs | sum }} {{ xs | max }} {{ xs | min }} {{ '%s-%03d' | format('a', 7) }} {{ '%s and %r' % ('x', 'y') }} {{ '%5.1f|%-4s|' % (3.14159, 'ab') }}",
    "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ {} is mapping }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is integer }}",
    "{{ [] is iterable }}{{ 'a' is sequence }}{{ true is boolean }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 2 is in [1,2] }}{{ 'ab' is lower }}{{ 'AB' is upper }}",
    "{{ 1 is not string }}{{ m.n is not none }}{{ 1 is eq 1 }}{{ 1 is equalto(2) }}{{ false is false }}{{ true is true }}{{ 1 is sameas 1 }}{{ 2 is gt 1 }}{{ 2 is lt 1 }}{{ 1 is ne 1 }}",
    "{{ 1 in [1] }}{{ 'b' in 'abc' }}{{ 'role' in m }}{{ 3 not in [1] }}{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ [1, 2] < [1, 3] }}{{ 'a' < 'b' }}",
    "{{ 'y' if m.n else 'n' }}{{ 'y' if not m.n }}{{ m.n or 'alt' }}{{ 0 and 1 }}{{ 1 and 'both' }}{{ not none }}",
    "{{ [1,2] + [3] }}{{ 'ab' * 2 }}{{ -(2) }}{{ (1, 2)[1] }}{{ 10 - 2.5 }}{{ 3 * [0] }}{{ true + 1 }}{{ -xs[0] }}{{ -2 ** 2 }}",
    "{{ true }}{{ True }}{{ none }}{{ None }}{{ false }}{{ False }}",
    "{{ m.role }}{{ m['content'] }}{{ xs[-1] }}{{ xs[1:3] }}{{ xs[::-2] }}{{ m.content[:5] }}{{ m.missing }}{{ xs[10] }}{{ s[-3:] }}{{ xs[-100:2] }}{{ xs[3:1:-1] }}",
    "{{ m.get('role') }}{{ m.get('nope', 'dflt') }}{{ m.get('nope') }}{{ m.keys() | list }}{{ m.values() | list | length }}{{ m.items() | list | length }}",
    "{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a/b/c'.rsplit('/', 1) }}|{{ s.split() }}",
    "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'aXa'.upper() }}{{ 'abcb'.find('b') }}{{ 'abcb'.rfind('b') }}{{ 'abcb'.count('b') }}{{ '-'.join(['a', 'b']) }}{{ 'a\\nb\\r\\nc'.splitlines() }}",
    "{{ '{} and {}'.format(1, 'x') }}|{{ '{0}{name}{0}'.format(7, name='n') }}|{{ '{:>5}|{:.2f}|{:<4}|{:^7}|{:03d}'.format('ab', 3.14159, 'x', 'mid', 5) }}|{{ '{{lit}}'.format() }}",
    "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(5, 0, -2) | list }}{{ dict(a=1, b=[2]) }}{{ 'é'|length }}{{ 'héllo'[1] }}{{ 'héllo'[1:3] }}",
    "{% set d = {4096: 512, 1024: 256} %}{{ d | dictsort }}{{ d[1024] }}{{ 1024 in d }}{% for k, v in d.items() %}{{ k + 1 }}{% endfor %}",
    "{{ nope }}|{{ nope | length }}|{{ nope | default('x') }}|{% for a in nope %}no{% endfor %}|{{ nope is defined }}|{{ not nope }}|{{ nope ~ 'x' }}|{{ nope | string }}|{{ nope | list }}",
    "{{ none.attr }}|{{ m.n.x is defined }}|{{ 'abc'.nomethod is defined }}",
    "{{ nope.attr }}",
    "{{ nope + 1 }}",
    "{{ nope | tojson }}",
    "{{ raise_exception('Bad role!') }}",
    "{% set xs2 = [] %}{% set _ = xs2.append(1) %}{{ xs2 }}",
    "{{ 1 / 0 }}",
    "{{ 1 < 'a' }}",
    "{{ xs.append }}",
    "{{ 'abc' | nosuchfilter }}",
    "{% if false %}{{ 'abc' | nosuchfilter }}{% endif %}ok",
    "{{ 1 is nosuchtest }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, z=2) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{{ messages[0]['content'] }}",
    "{{ x is defined if x else 3 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 1.5 ~ [1] }}",
    "{{ \"%s\" % none }} {{ 'a%%b' % () }} {{ '%d items' % 3 }} {{ '%(a)s=%(b)d' % {'a': 'x', 'b': 2} }}",
    "{{ s.strip().lower().replace('ü', 'u') }} {{ s | trim | title }} {{ 'ÉCOLE'.lower() }} {{ 'straße'.upper() if false else 'ok' }}",
    "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}{{ ns.b is defined }}",
    "{% set t = 'x' %}{% set t2 %}{{ t }}{{ t }}{% endset %}{{ t2 | length }}",
    "{{ xs | join }} {{ msgs | join(', ', attribute='role') }} {{ [1, none, 'a'] | join('|') }}",
    "{{ 'abc'[5] is defined }} {{ xs[1.0] if false else '' }} {{ m['role'][0] }} {{ m.content.split(' ')[1][:3] }}",
    "{{ 10 // 3 * 3 + 10 % 3 }} {{ 2 ** 3 ** 2 }} {{ (2 ** 3) ** 2 }} {{ 1 - -1 }} {{ 6 / 4 * 2 }}",
    "{{ [[1, 2], [3]] | map('length') | list }} {{ ['a', 'B'] | map('upper') | list }} {{ xs | select('odd') | list }} {{ xs | reject('divisibleby', 20) | list }}",
    "{{ msgs | selectattr('role', 'in', ['bot']) | list | length }} {{ msgs | selectattr('c', 'ne', 'a') | map(attribute='c') | join }}",
    "{% if msgs[0].role == 'user' and msgs | length > 2 or false %}A{% elif true %}B{% else %}C{% endif %}",
    "{{- '  lead' }}|{{ 'trail  ' -}}  |",
    "{%- for m2 in msgs -%}\n  {{ m2.role }}\n{%- endfor -%}\n",
    "{% raw %}{{ not rendered }}{% endraw %}",
    "{{ '{{' }}{{ '}}' }}{{ '{%' }}",
    "{{ {'a': 1}.a }} {{ {'items': 5}['items'] }} {{ {'items': 5}.items() | list }}",
    "{{ 'x' if [] else 'y' }}{{ 'x' if {} else 'y' }}{{ 'x' if '0' else 'y' }}{{ 'x' if 0.0 else 'y' }}",
    "{{ xs[1:] | length }} {{ (xs | list)[0] }} {{ xs[:-1] | join(',') }}",
    "{{ s | truncate(10) }}|{{ 'short' | truncate(10) }}|{{ 'abc' | center(9) }}|",
    "{{ [1.5, 'a'] | pprint }} {{ [1.5, 'a'] | string }} {{ 5 | string + 'x' }}",
    "{{ strftime_now('%Y-%m-%d %H:%M %A %d %B') }}",
    "{{ 'a' in nope }}{{ nope in [1] }}",
    "{{ loop }}",
    "{% for x in 5 %}{% endfor %}",
    "{{ 9223372036854775807 }} {{ -9223372036854775807 }}",
]


@pytest.mark.skipif(not os.path.exists(HEARTH_BIN), reason="hearth binary not built")
@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_matches_jinja2(index, tmp_path):
    source = SNIPPETS[index]
    path = tmp_path / "t.jinja"
    path.write_text(source, encoding="utf-8")
    want_kind, want = render_jinja2(source, dict(SNIPPET_CONTEXT))
    got_kind, got = render_hearth(str(path), dict(SNIPPET_CONTEXT))
    if want_kind == "error":
        assert got_kind == "error", f"jinja2 raised ({want}) but hearth rendered: {got!r}"
    else:
        assert got_kind == "ok", f"hearth failed: {got}\njinja2: {want!r}"
        assert got == want
