// Unit tests of the Jinja interpreter: syntax, whitespace control, scoping, filters, tests,
// methods, errors and sandbox limits (expected outputs are what Python jinja2 prints).
#include "tokenizer/jinja_template.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

std::string R(std::string_view src, const ojson& ctx = ojson::object(), const JinjaLimits& limits = {}) {
  auto t = JinjaTemplate::Parse(src);
  if (!t.ok()) return "PARSE ERROR: " + t.status().message();
  auto r = (*t)->Render(ctx, limits);
  if (!r.ok()) return "ERROR: " + r.status().message();
  return *r;
}

TEST(Jinja, Basics) {
  EXPECT_EQ(R("Hello {{ name }}!", {{"name", "world"}}), "Hello world!");
  EXPECT_EQ(R("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 1 / 2 }}"), "7 3 -4 -2 1024 0.5");
  EXPECT_EQ(R("{{ 'a' ~ 1 ~ none ~ true }}"), "a1NoneTrue");
  EXPECT_EQ(R("{{ [1, 'a', none, true, 1.0] }} {{ {'k': [1]} }} {{ (1,) }}"), "[1, 'a', None, True, 1.0] {'k': [1]} (1,)");
  EXPECT_EQ(R("{{ x }}|{{ x is defined }}|{{ y.z is defined }}", {{"y", ojson::object()}}), "|False|False");
  EXPECT_EQ(R("{{ 'x' if false }}|{{ 'a' if 0 else 'b' }}"), "|b");
  EXPECT_EQ(R("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 3 not in [1, 2] }}"), "True True True");
  EXPECT_EQ(R("{{ 'abc'[1:] }}{{ 'abc'[-1] }}{{ [1,2,3][::-1] }}"), "bcc[3, 2, 1]");
  EXPECT_EQ(R("{{ 1e-05 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 3.0 }}"), "1e-05 1e+16 0.30000000000000004 3.0");
}

TEST(Jinja, WhitespaceControlMatchesTransformers) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(R("{% if true %}\n  a\n  {% endif %}\nb"), "  a\nb");
  EXPECT_EQ(R("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(R("a\n    {%+ if true %}x{% endif %}"), "a\n    x");
  EXPECT_EQ(R("{{ 'a' }}\n{{ 'b' }}\n"), "a\nb");  // one trailing newline of the source is dropped
  EXPECT_EQ(R("x {# comment #}\ny"), "x y");
}

TEST(Jinja, LoopsAndScoping) {
  EXPECT_EQ(R("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
              {{"xs", {"a", "b", "c"}}}),
            "1a,2b,3c");
  EXPECT_EQ(R("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(R("{% for x in range(10) if x is odd %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "135");
  EXPECT_EQ(R("{% set n = 0 %}{% for x in [1,2] %}{% set n = n + x %}{% endfor %}{{ n }}"), "0");
  EXPECT_EQ(R("{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"), "3");
  EXPECT_EQ(R("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(R("{% if true %}{% set x = 5 %}{% endif %}{{ x }}"), "5");
}

TEST(Jinja, MacrosCallAndFilterBlocks) {
  EXPECT_EQ(R("{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"), "[1B][12]");
  EXPECT_EQ(R("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}inner{% endcall %}"), "<inner>");
  EXPECT_EQ(R("{% filter upper %}abc{% endfilter %}|{% set s %} x {% endset %}[{{ s | trim }}]"), "ABC|[x]");
  EXPECT_EQ(R("{% generation %}kept{% endgeneration %}"), "kept");
  // markupsafe: `+` with a Markup escapes the plain operand; `~` does not.
  EXPECT_EQ(R("{{ 'a' | safe + '<\"' }}|{{ ('a' | safe) ~ '<' }}|{{ '<' | escape }}"), "a&lt;&#34;|a<|&lt;");
}

TEST(Jinja, FiltersAndMethods) {
  ojson ctx = {{"msgs", {{{"role", "system"}, {"content", "s"}}, {{"role", "user"}, {"content", "u"}}}}};
  EXPECT_EQ(R("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}", ctx), "u");
  EXPECT_EQ(R("{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}", ctx), "1");
  EXPECT_EQ(R("{{ {'b': 1, 'a': [1, 'é']} | tojson }}"), "{\"b\": 1, \"a\": [1, \"é\"]}");
  EXPECT_EQ(R("{{ {'a': [1]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(R("{{ 'é' | tojson(ensure_ascii=true) }}"), "\"\\u00e9\"");
  EXPECT_EQ(R("{{ '  a b  '.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'ab'.upper() }}"),
            "a b|['a', 'b', '', 'c']|['a', 'b']|AB");
  EXPECT_EQ(R("{{ ' a  b c '.split(None, 1) }}|{{ ' a b c '.rsplit(None, 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}"),
            "['a', 'b c ']|[' a b', 'c']|['a,b', 'c']");
  EXPECT_EQ(R("{{ 'x{}y{}'.format(1, 'z') }}|{{ 'hello world' | title }}|{{ 'abc'.startswith(('x', 'a')) }}"),
            "x1yz|Hello World|True");
  EXPECT_EQ(R("{{ x | default('d') }}|{{ '' | default('d', true) }}|{{ [3,1,2] | sort | first }}|{{ [1,2] | last }}"),
            "d|d|1|2");
  EXPECT_EQ(R("{{ 'a\nb' | indent(2) }}|{{ '42' | int + 1 }}|{{ 2.5 | round }}|{{ [1, 1, 2] | unique | list }}"),
            "a\n  b|43|2.0|[1, 2]");
  EXPECT_EQ(R("{{ {'b': 1, 'a': 2} | dictsort }}|{{ d.get('x', 'no') }}|{{ d.keys() | list }}", {{"d", {{"k", 1}}}}),
            "[('a', 2), ('b', 1)]|no|['k']");
}

TEST(Jinja, ErrorsNameTheLine) {
  EXPECT_EQ(R("a\n{{ raise_exception('bad role') }}"), "ERROR: chat template line 2: bad role");
  EXPECT_EQ(R("{% if %}"), "PARSE ERROR: chat template line 1: unexpected '%}'");
  EXPECT_EQ(R("\n\n{{ x | nosuchfilter }}"), "ERROR: chat template line 3: no filter named 'nosuchfilter'");
  EXPECT_EQ(R("{% if false %}{{ x | nosuchfilter }}{% endif %}ok"), "ok");  // like jinja2 3.1: only when run
  EXPECT_EQ(R("{% for x in xs %}"), "PARSE ERROR: chat template line 1: unexpected end of template, expected 'endfor'");
  EXPECT_EQ(R("{{ x.y }}"), "ERROR: chat template line 1: 'x' is undefined");
  EXPECT_EQ(R("{{ 1 + 'a' }}"), "ERROR: chat template line 1: unsupported operand type(s) for +: 'int' and 'str'");
  // The immutable sandbox: templates may not modify their inputs.
  EXPECT_EQ(R("{% set l = [] %}{{ l.append(1) }}").rfind("ERROR: chat template line 1: access to attribute 'append'", 0), 0u);
}

TEST(Jinja, SandboxLimits) {
  JinjaLimits tight;
  tight.max_loop_iterations = 100;
  EXPECT_EQ(R("{% for i in range(1000) %}{% endfor %}", ojson::object(), tight).rfind("ERROR: chat template line 1: chat template loops exceeded", 0), 0u);
  tight.max_output_bytes = 1000;
  EXPECT_NE(R("{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", ojson::object(), tight)
                .find("larger than the limit"), std::string::npos);
  EXPECT_NE(R("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper than"), std::string::npos);
  // Work on big strings is charged by size: indexing a 1 MiB string in a loop runs out of steps.
  EXPECT_NE(R("{% for i in range(50000) %}{{ s[i] }}{% endfor %}", {{"s", std::string(1 << 20, 'a')}})
                .find("exceeded 20000000 steps"), std::string::npos);
  // Statement nesting inside recursive macros shares the depth budget.
  JinjaLimits deep_calls;
  deep_calls.max_call_depth = 1000;
  EXPECT_NE(R("{% macro f(n) %}{% if true %}{% for x in [1] %}{{ f(n + 1) }}{% endfor %}{% endif %}{% endmacro %}{{ f(0) }}",
              ojson::object(), deep_calls).find("nested too deeply"), std::string::npos);
  EXPECT_NE(R("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nesting deeper than the limit"),
            std::string::npos);
}

}  // namespace
}  // namespace swarmkv
