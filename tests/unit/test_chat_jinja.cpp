// Jinja engine unit tests: expected outputs are what Python's jinja2 (as HF configures it) prints;
// also limits (steps, output size, recursion) and error reporting with line:column.
#include <gtest/gtest.h>

#include <string>

#include "chat/jinja.h"
#include "core/error.h"

using namespace hearth::jinja;

namespace {

std::string R(const std::string& src, const std::string& ctx_json = "{}", RenderOptions opt = {}) {
    return render_string(src, Value::from_json(nlohmann::ordered_json::parse(ctx_json)), opt);
}

std::string error_of(const std::string& src, const std::string& ctx_json = "{}", RenderOptions opt = {}) {
    try {
        R(src, ctx_json, opt);
    } catch (const hearth::Error& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST(ChatJinja, TextAndOutput) {
    EXPECT_EQ(R("Hello {{ name }}!", R"({"name":"world"})"), "Hello world!");
    EXPECT_EQ(R("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"), "7 3 -4 2 3.5 1024");
    EXPECT_EQ(R("{{ 'a' ~ 1 ~ none ~ true }}"), "a1NoneTrue");
    EXPECT_EQ(R("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 100000.0 }}"),
              "1.0 0.30000000000000004 1e+20 1.5e-07 100000.0");
    EXPECT_EQ(R("{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 2) }}"),
              "[1, 'a', None, True, 2.5] {'k': 'v', 'n': [1]} (1,) (1, 2)");
    EXPECT_EQ(R("{{ \"it's\" }} {{ [\"it's\"] }} {{ ['a\\nb'] }}"), "it's [\"it's\"] ['a\\nb']");
    EXPECT_EQ(R("{{ undefined_thing }}|{{ x.y is defined }}", R"({"x":{}})"), "|False");
    EXPECT_EQ(R("{# comment #}a{{ 'b' }}"), "ab");
    EXPECT_EQ(R("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
}

TEST(ChatJinja, WhitespaceControl) {
    // trim_blocks + lstrip_blocks as Hugging Face sets them.
    EXPECT_EQ(R("{% if true %}\n  yes\n{% endif %}\nend"), "  yes\nend");
    EXPECT_EQ(R("  {% if true %}x{% endif %}  \n"), "x  ");
    EXPECT_EQ(R("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
    EXPECT_EQ(R("{{ 'a' }}\n{{ 'b' }}\n"), "a\nb");  // one trailing newline is dropped
    EXPECT_EQ(R("x {{- ' y ' -}} z"), "x y z");
    EXPECT_EQ(R("{% for i in [1,2] %}\n    {{ i }}\n{% endfor %}"), "    1\n    2\n");
    EXPECT_EQ(R("a\r\nb"), "a\nb");
}

TEST(ChatJinja, ForLoops) {
    EXPECT_EQ(R("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }},{% endfor %}",
                R"({"xs":["a","b"]})"),
              "10TrueFalse22,21FalseTrue21,");
    EXPECT_EQ(R("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"), "-2;1-3;2-;");
    EXPECT_EQ(R("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(R("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "2242");
    EXPECT_EQ(R("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}"), "a=1 b=2 ");
    EXPECT_EQ(R("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}"), "ba");
    EXPECT_EQ(R("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "13");
    // Assignments inside a loop do not leak out, and each iteration starts fresh.
    EXPECT_EQ(R("{% set v = 0 %}{% for x in [1,2] %}{{ v }}{% set v = x %}{% endfor %}{{ v }}"), "000");
    EXPECT_EQ(R("{% for c in 'héllo' %}{{ c }}.{% endfor %}"), "h.é.l.l.o.");
    EXPECT_EQ(R("{% for x in [1,2,3] %}{{ loop.cycle('a','b') }}{% endfor %}"), "aba");
}

TEST(ChatJinja, SetNamespaceMacro) {
    EXPECT_EQ(R("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
    EXPECT_EQ(R("{% set ns = namespace(n=0) %}{% for x in [1,2,3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"), "6");
    EXPECT_EQ(R("{% set block %}  inner {{ 1 }}{% endset %}[{{ block }}]"), "[  inner 1]");
    EXPECT_EQ(R("{% set up | upper %}abc{% endset %}{{ up }}"), "ABC");
    EXPECT_EQ(R("{% macro m(a, b='d', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, c=3) }}|{{ m(1, 2, 3) }}"),
              "1dNone|1d3|123");
    EXPECT_EQ(R("{% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}body{% endcall %}"), "[body]");
    EXPECT_EQ(R("{% filter upper %}abc{{ 'd' }}{% endfilter %}"), "ABCD");
    EXPECT_EQ(R("{% with x = 5 %}{{ x }}{% endwith %}{{ x }}"), "5");
    EXPECT_NE(error_of("{% macro m(a) %}{% endmacro %}{{ m(1, z=2) }}").find("no keyword argument 'z'"), std::string::npos);
}

TEST(ChatJinja, Filters) {
    EXPECT_EQ(R("{{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'abc' | length }}|{{ [1,2] | count }}"), "hi|hi|3|2");
    EXPECT_EQ(R("{{ {'a': 'é<'} | tojson }}"), "{\"a\": \"é<\"}");
    EXPECT_EQ(R("{{ {'a': [1, {'b': none}], 'c': {}} | tojson(indent=2) }}"),
              "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}");
    EXPECT_EQ(R("{{ {'a': 1, 'b': 2} | tojson(separators=(',', ':')) }}"), "{\"a\":1,\"b\":2}");
    EXPECT_EQ(R("{{ 'a\"\\\\\n\t' | tojson }}"), "\"a\\\"\\\\\\n\\t\"");
    RenderOptions html;
    html.html_safe_tojson = true;
    EXPECT_EQ(R("{{ {'b': \"<'&>\", 'a': 'é'} | tojson }}", "{}", html), "{\"a\": \"\\u00e9\", \"b\": \"\\u003c\\u0027\\u0026\\u003e\"}");
    EXPECT_EQ(R("{{ xs | selectattr('role', 'equalto', 'user') | map(attribute='c') | join(',') }}",
                R"({"xs":[{"role":"user","c":"a"},{"role":"bot","c":"b"},{"role":"user","c":"c"}]})"),
              "a,c");
    EXPECT_EQ(R("{{ xs | rejectattr('x', 'defined') | list | length }}", R"({"xs":[{"x":1},{}]})"), "1");
    EXPECT_EQ(R("{{ 'hello world' | title }} {{ 'hELLO' | capitalize }} {{ 'Ab' | upper }}{{ 'Ab' | lower }}"), "Hello World Hello ABab");
    EXPECT_EQ(R("{{ 'aaa' | replace('a', 'b', 2) }} {{ x | default('d') }} {{ '' | default('e', true) }} {{ 0 | d(5) }}"), "bba d e 0");
    EXPECT_EQ(R("{{ [3,1,2] | first }}{{ [3,1,2] | last }}{{ [3,1,2] | sort | list }}{{ [3,1,2] | sort(reverse=true) }}"), "32[1, 2, 3][3, 2, 1]");
    EXPECT_EQ(R("{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int }} {{ '2.5' | float }} {{ -3 | abs }} {{ 2.675 | round(2) }} {{ 2.5 | round }}"),
              "43 3 0 2.5 3 2.67 2.0");
    EXPECT_EQ(R("{{ [1,2,1,'A','a'] | unique | list }} {{ [1,2] | reverse | list }} {{ 'abc' | reverse }}"), "[1, 2, 'A'] [2, 1] cba");
    EXPECT_EQ(R("{{ {'b': 1, 'A': 2} | dictsort }} {{ [1,2,3,4,5] | batch(2) | list }}"), "[('A', 2), ('b', 1)] [[1, 2], [3, 4], [5]]");
    EXPECT_EQ(R("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}"), "a\n  b\n\n  c|  a\n  b");
    EXPECT_EQ(R("{{ 'one two  three' | wordcount }} {{ '<a>' | e }} {{ '<a>' | safe }} {{ {'a': 1} | items | list }}"),
              "3 &lt;a&gt; <a> [('a', 1)]");
    EXPECT_EQ(R("{{ [1, 2, 3] | sum }} {{ [4, 2, 8] | max }} {{ [4, 2, 8] | min }} {{ '%s-%03d' | format('a', 7) }}"), "6 8 2 a-007");
    EXPECT_EQ(R("{{ ('<' | safe) + '<' }}"), "<&lt;");  // Markup + str escapes the str, as markupsafe
}

TEST(ChatJinja, TestsAndOperators) {
    EXPECT_EQ(R("{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ {} is mapping }}",
                R"({"x":1})"),
              "TrueTrueTrueTrueTrueTrue");
    EXPECT_EQ(R("{{ [] is iterable }}{{ 'a' is sequence }}{{ true is boolean }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 2 is in [1,2] }}"),
              "TrueTrueTrueTrueTrueTrueTrue");
    EXPECT_EQ(R("{{ 1 is not string }}{{ x is not none }}{{ 1 is eq 1 }}{{ 1 is equalto(2) }}{{ false is false }}"), "TrueTrueTrueFalseTrue");
    EXPECT_EQ(R("{{ 1 in [1] }}{{ 'b' in 'abc' }}{{ 'k' in {'k': 1} }}{{ 3 not in [1] }}{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}"),
              "TrueTrueTrueTrueTrueTrueTrue");
    EXPECT_EQ(R("{{ 'y' if x else 'n' }}{{ 'y' if not x }}{{ x or 'alt' }}{{ 0 and 1 }}", R"({"x":0})"), "nyalt0");
    EXPECT_EQ(R("{{ [1,2] + [3] }}{{ 'ab' * 2 }}{{ -(2) }}{{ (1, 2)[1] }}{{ 10 - 2.5 }}"), "[1, 2, 3]abab-227.5");
    EXPECT_EQ(R("{{ true }}{{ True }}{{ none }}{{ None }}{{ false }}"), "TrueTrueNoneNoneFalse");
}

TEST(ChatJinja, SubscriptsSlicesMethods) {
    const char* ctx = R"({"m":{"role":"user","content":"Hello World"},"xs":[10,20,30,40]})";
    EXPECT_EQ(R("{{ m.role }}{{ m['content'] }}{{ xs[-1] }}{{ xs[1:3] }}{{ xs[::-2] }}{{ m.content[:5] }}{{ m.missing }}", ctx),
              "userHello World40[20, 30][40, 20]Hello");
    EXPECT_EQ(R("{{ m.get('role') }}{{ m.get('nope', 'dflt') }}{{ m.get('nope') }}{{ m.keys() | list }}{{ m.values() | list | length }}", ctx),
              "userdfltNone['role', 'content']2");
    EXPECT_EQ(R("{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a/b/c'.rsplit('/', 1) }}"),
              "a b|axx|xxa|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a/b', 'c']");
    EXPECT_EQ(R("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'aXa'.upper() }}{{ 'hello world'.title() }}{{ 'abcb'.find('b') }}{{ 'abcb'.count('b') }}{{ '-'.join(['a', 'b']) }}"),
              "TrueTrueAXAHello World12a-b");
    EXPECT_EQ(R("{{ '{} and {}'.format(1, 'x') }}|{{ '{0}{name}'.format(7, name='n') }}|{{ '{:>5}|{:.2f}'.format('ab', 3.14159) }}|{{ 'x'.replace('x', 'y') }}"),
              "1 and x|7n|   ab|3.14|y");
    EXPECT_EQ(R("{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ dict(a=1) }}{{ 'é'|length }}{{ 'héllo'[1] }}"),
              "[0, 1, 2][1, 3, 5]{'a': 1}1é");
    EXPECT_EQ(R("{{ {4096: 512, 1024: 256} | dictsort }}"), "[(1024, 256), (4096, 512)]");
}

TEST(ChatJinja, UndefinedSemantics) {
    EXPECT_EQ(R("{{ u }}|{{ u | length }}|{{ u | default('x') }}|{% for a in u %}no{% endfor %}|{{ u is defined }}|{{ not u }}"), "|0|x||False|True");
    EXPECT_NE(error_of("{{ u.attr }}").find("'u' is undefined"), std::string::npos);
    EXPECT_NE(error_of("{{ u + 1 }}").find("undefined"), std::string::npos);
    EXPECT_NE(error_of("{{ u | tojson }}").find("not JSON serializable"), std::string::npos);
    EXPECT_EQ(R("{{ none.attr }}|{{ m.a.b is defined }}", R"({"m":{"a":{}}})"), "|False");
}

TEST(ChatJinja, SandboxAndErrors) {
    EXPECT_NE(error_of("{{ raise_exception('Bad role!') }}").find("Bad role!"), std::string::npos);
    EXPECT_NE(error_of("{% set xs = [] %}{% set _ = xs.append(1) %}").find("unsafe"), std::string::npos);
    RenderOptions mut;
    mut.immutable = false;
    EXPECT_EQ(R("{% set ns = namespace(xs=[]) %}{% set _ = ns.xs.append(1) %}{% set _ = ns.xs.append(2) %}{{ ns.xs.pop(0) }}{{ ns.xs }}", "{}", mut), "1[2]");
    std::string e = error_of("line1\n{{ 1 +* 2 }}");
    EXPECT_NE(e.find("syntax error at 2:"), std::string::npos) << e;
    EXPECT_NE(error_of("{% if x %}never closed").find("endif"), std::string::npos);
    EXPECT_NE(error_of("{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
    EXPECT_NE(error_of("{{ 'abc' | nosuchfilter }}").find("no filter named 'nosuchfilter'"), std::string::npos);
    EXPECT_NE(error_of("{{ 1 / 0 }}").find("division by zero"), std::string::npos);
    EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
    EXPECT_NE(error_of("{{ 1 < 'a' }}").find("not supported"), std::string::npos);
    EXPECT_NE(error_of("{% include 'x.j2' %}").find("not supported"), std::string::npos);
    try {
        R("{{ raise_exception('x') }}");
        FAIL();
    } catch (const hearth::Error& err) {
        EXPECT_EQ(err.kind(), hearth::ErrorKind::InvalidArgument);
    }
}

TEST(ChatJinja, LimitsStopHostileTemplates) {
    RenderOptions small;
    small.max_steps = 10000;
    EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{}", small).find("step limit"),
              std::string::npos);
    small.max_output = 1000;
    small.max_steps = 1000000;
    EXPECT_NE(error_of("{% for i in range(10000) %}xxxxxxxxxx{% endfor %}", "{}", small).find("output exceeds"), std::string::npos);
    EXPECT_NE(error_of("{{ 'x' * 100000000000 }}").find("too large"), std::string::npos);
    EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("recursion too deep"), std::string::npos);
    EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply"), std::string::npos);
    EXPECT_NE(error_of("{{ range(1000000) | length }}").find("Range too big"), std::string::npos);
}

TEST(ChatJinja, StrftimeNowUsesFixedClock) {
    RenderOptions o;
    o.fixed_time = 0;
    setenv("TZ", "UTC", 1);
    tzset();
    EXPECT_EQ(R("{{ strftime_now('%Y-%m-%d') }}", "{}", o), "1970-01-01");
}
