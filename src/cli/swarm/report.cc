#include "cli/swarm/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "base/units.h"
#include "cli/swarm/agent_client.h"

namespace swarmkv::cli {
namespace {

double Max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

}  // namespace

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

double UnionLength(std::vector<std::pair<double, double>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  double total = 0, begin = 0, end = 0;
  bool open = false;
  for (const auto& [b, e] : intervals) {
    if (e <= b) continue;
    if (open && b <= end) {
      end = std::max(end, e);
      continue;
    }
    if (open) total += end - begin;
    begin = b, end = e, open = true;
  }
  if (open) total += end - begin;
  return total;
}

int64_t ModeResult::PromptTokens() const {
  int64_t n = 0;
  for (const auto& r : requests) n += r.prompt_tokens;
  return n;
}

int64_t ModeResult::ReusedTokens() const {
  int64_t n = 0;
  for (const auto& r : requests) n += std::min(r.cached_tokens, r.prompt_tokens);
  return n;
}

int64_t ModeResult::ComputedTokens() const { return PromptTokens() - ReusedTokens(); }

int64_t ModeResult::GeneratedTokens() const {
  int64_t n = 0;
  for (const auto& r : requests) n += r.completion_tokens;
  return n;
}

std::vector<double> ModeResult::TtftMs(int turn) const {
  std::vector<double> out;
  for (const auto& r : requests)
    if (turn < 0 || r.turn == turn) out.push_back(r.ttft_ms);
  return out;
}

double ModeResult::DecodeTokensPerSecond() const {
  int64_t tokens = 0;
  std::vector<std::pair<double, double>> spans;
  for (const auto& r : requests) {
    if (r.streamed_tokens < 2) continue;
    tokens += r.streamed_tokens - 1;
    spans.emplace_back(r.first_token_at_ms, r.last_token_at_ms);
  }
  const double ms = UnionLength(std::move(spans));
  return ms > 0 ? static_cast<double>(tokens) * 1000.0 / ms : 0;
}

double ModeResult::DecodeStepTokensPerSecond() const {
  return steps.known && steps.decode.seconds > 0 ? steps.decode.decode_rows / steps.decode.seconds : 0;
}

namespace {

nlohmann::json StepsJson(const ModeResult::Steps& s) {
  if (!s.known) return nullptr;
  auto kind = [](const ModeResult::StepKind& k) {
    return nlohmann::json{{"steps", k.steps},
                          {"decode_rows", k.decode_rows},
                          {"prefill_rows", k.prefill_rows},
                          {"seconds", k.seconds},
                          {"ms_per_step", k.steps > 0 ? k.seconds * 1000.0 / k.steps : 0.0}};
  };
  return {{"decode", kind(s.decode)}, {"mixed", kind(s.mixed)}, {"prefill", kind(s.prefill)}};
}

}  // namespace

ModeResult::Steps StepsFromMetrics(const std::string& text) {
  ModeResult::Steps s;
  s.known = text.find("swarmkv_engine_steps_total") != std::string::npos;
  auto kind = [&](const std::string& k, ModeResult::StepKind* out) {
    const std::string label = "kind=\"" + k + "\"";
    out->steps = PrometheusValue(text, "swarmkv_engine_steps_total", label);
    out->decode_rows = PrometheusValue(text, "swarmkv_engine_step_rows_total", label + ",row=\"decode\"");
    out->prefill_rows = PrometheusValue(text, "swarmkv_engine_step_rows_total", label + ",row=\"prefill\"");
    out->seconds = PrometheusValue(text, "swarmkv_engine_step_seconds_total", label);
  };
  kind("decode", &s.decode);
  kind("mixed", &s.mixed);
  kind("prefill", &s.prefill);
  return s;
}

ModeResult::Steps StepsDelta(const ModeResult::Steps& after, const ModeResult::Steps& before) {
  ModeResult::Steps d = after;
  d.known = after.known && before.known;
  auto sub = [](ModeResult::StepKind* a, const ModeResult::StepKind& b) {
    a->steps -= b.steps, a->decode_rows -= b.decode_rows, a->prefill_rows -= b.prefill_rows, a->seconds -= b.seconds;
  };
  sub(&d.decode, before.decode);
  sub(&d.mixed, before.mixed);
  sub(&d.prefill, before.prefill);
  return d;
}

nlohmann::json ModeResult::ToJson() const {
  const std::vector<double> ttft = TtftMs();
  std::vector<double> total;
  for (const auto& r : requests) total.push_back(r.end_ms - r.start_ms);
  nlohmann::json per_turn = nlohmann::json::array();
  for (int t = 0; t < turns; ++t) {
    int64_t prompt = 0, reused = 0, generated = 0;
    for (const auto& r : requests) {
      if (r.turn != t) continue;
      prompt += r.prompt_tokens;
      reused += std::min(r.cached_tokens, r.prompt_tokens);
      generated += r.completion_tokens;
    }
    const std::vector<double> tt = TtftMs(t);
    per_turn.push_back({{"turn", t + 1},
                        {"prompt_tokens", prompt},
                        {"prompt_tokens_computed", prompt - reused},
                        {"prompt_tokens_reused", reused},
                        {"generated_tokens", generated},
                        {"ttft_ms_p50", Percentile(tt, 50)},
                        {"ttft_ms_p95", Percentile(tt, 95)}});
  }
  const double generated_per_s = wall_ms > 0 ? static_cast<double>(GeneratedTokens()) * 1000.0 / wall_ms : 0;
  return {
      {"agents", agents},
      {"turns", turns},
      {"requests", requests.size()},
      {"prompt_tokens", PromptTokens()},
      {"prompt_tokens_computed", ComputedTokens()},
      {"prompt_tokens_reused", ReusedTokens()},
      {"prompt_tokens_restored", prompt_tokens_restored},
      {"ttft_from", TtftSource(*this)},
      {"pin", pin.done ? nlohmann::json{{"ms", pin.ms}, {"tokens", pin.tokens}, {"reused", pin.reused},
                                         {"restored", pin.restored}, {"computed", pin.computed}}
                       : nlohmann::json(nullptr)},
      {"generated_tokens", GeneratedTokens()},
      {"ttft_ms", ttft},
      {"ttft_ms_p50", Percentile(ttft, 50)},
      {"ttft_ms_p95", Percentile(ttft, 95)},
      {"ttft_ms_first_turn_max", Max(TtftMs(0))},
      {"ttft_ms_max", Max(ttft)},
      {"itl_ms_p50", Percentile(itl_ms, 50)},
      {"itl_ms_p95", Percentile(itl_ms, 95)},
      {"decode_tokens_per_s", DecodeTokensPerSecond()},
      {"decode_step_tokens_per_s", DecodeStepTokensPerSecond()},
      {"engine_steps", StepsJson(steps)},
      {"generated_tokens_per_s", generated_per_s},
      {"total_ms", total},
      {"per_turn", per_turn},
      {"peak_kv_bytes", peak_kv_bytes},
      {"peak_kv_source", peak_kv_source},
      {"peak_rss_bytes", peak_rss_bytes},
      {"wall_ms", wall_ms},
      {"errors", errors},
  };
}

std::string TtftSource(const ModeResult& m) {
  if (m.prompt_tokens_restored > 0) return "restore";
  for (const auto& r : m.requests)
    if (r.turn == 0 && r.cached_tokens > 0) return "reuse";
  return "compute";
}

std::string RenderTable(const std::vector<ModeResult>& modes) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %6s %5s %10s %10s %9s %9s %8s %8s %9s %10s %10s %11s %11s %9s\n", "mode",
                "agents", "turns", "computed", "reused", "ttft_p50", "ttft_p95", "itl_p50", "itl_p95", "ttft_from",
                "decode_t/s", "dstep_t/s", "peak_kv", "peak_rss", "wall_s");
  os << line;
  for (const auto& m : modes) {
    const std::vector<double> ttft = m.TtftMs();
    std::snprintf(line, sizeof line, "%-16s %6d %5d %10lld %10lld %9s %9s %8s %8s %9s %10s %10s %11s %11s %9s\n",
                  m.name.c_str(), m.agents, m.turns, static_cast<long long>(m.ComputedTokens()),
                  static_cast<long long>(m.ReusedTokens()), (Fixed(Percentile(ttft, 50), 0) + "ms").c_str(),
                  (Fixed(Percentile(ttft, 95), 0) + "ms").c_str(), (Fixed(Percentile(m.itl_ms, 50), 0) + "ms").c_str(),
                  (Fixed(Percentile(m.itl_ms, 95), 0) + "ms").c_str(), TtftSource(m).c_str(),
                  Fixed(m.DecodeTokensPerSecond(), 1).c_str(),
                  m.steps.known ? Fixed(m.DecodeStepTokensPerSecond(), 1).c_str() : "-",
                  (FormatBytes(m.peak_kv_bytes) + (m.peak_kv_source == "allocated" ? "*" : "")).c_str(),
                  FormatBytes(m.peak_rss_bytes).c_str(), Fixed(m.wall_ms / 1000.0, 2).c_str());
    os << line;
    if (m.pin.done)
      os << "    pin: " << m.pin.tokens << " context tokens resident in " << Fixed(m.pin.ms, 0) << "ms (reused "
         << m.pin.reused << ", restored " << m.pin.restored << ", computed " << m.pin.computed
         << ") before the agents started\n";
    for (const auto& e : m.errors) os << "    error: " << e << "\n";
  }
  os << "    decode_t/s: tokens after each answer's first per second of the time any agent was decoding "
        "(client clock; includes other agents' prompt chunks)\n"
        "    dstep_t/s: decode rows per second of the server's decode-only steps (batched decode speed)\n";
  for (const auto& m : modes)
    if (m.peak_kv_source == "allocated") {
      os << "    * allocated at start-up (the server reports no KV use)\n";
      break;
    }
  return os.str();
}

std::string RenderSvg(const std::vector<ModeResult>& modes, const std::string& title) {
  // Panels side by side: TTFT p50/p95, prompt tokens computed vs reused, decode tokens/s, peak KV
  // bytes, wall time.
  const int panels = 5, panel_w = 260, panel_h = 260, top = 60, left = 50, gap = 40;
  const int width = left + panels * (panel_w + gap), height = top + panel_h + 90;
  static const char* kColors[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"};
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << left << "\" y=\"28\" font-size=\"16\" font-weight=\"bold\">" << Escape(title) << "</text>\n";

  auto panel = [&](int index, const std::string& heading, const std::vector<std::vector<double>>& groups,
                   const std::vector<std::string>& series_names, const std::string& unit) {
    int x0 = left + index * (panel_w + gap);
    double vmax = 0;
    for (const auto& g : groups) vmax = std::max(vmax, Max(g));
    if (vmax <= 0) vmax = 1;
    s << "<text x=\"" << x0 << "\" y=\"" << top - 10 << "\" font-weight=\"bold\">" << Escape(heading) << "</text>\n";
    s << "<line x1=\"" << x0 << "\" y1=\"" << top + panel_h << "\" x2=\"" << x0 + panel_w << "\" y2=\""
      << top + panel_h << "\" stroke=\"black\"/>\n";
    s << "<text x=\"" << x0 << "\" y=\"" << top + 12 << "\" fill=\"#555\">max " << Fixed(vmax, vmax < 10 ? 2 : 0)
      << " " << unit << "</text>\n";
    int group_w = panel_w / std::max<size_t>(1, groups.size());
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const auto& g = groups[gi];
      int gx = x0 + static_cast<int>(gi) * group_w;
      double bar_w = std::max(2.0, (group_w - 12.0) / std::max<size_t>(1, g.size()));
      for (size_t bi = 0; bi < g.size(); ++bi) {
        double h = (panel_h - 20) * g[bi] / vmax;
        s << "<rect x=\"" << Fixed(gx + 6 + bi * bar_w, 1) << "\" y=\"" << Fixed(top + panel_h - h, 1)
          << "\" width=\"" << Fixed(bar_w * 0.9, 1) << "\" height=\"" << Fixed(h, 1) << "\" fill=\""
          << kColors[(series_names.size() > 1 ? bi : gi) % 6] << "\"><title>" << Fixed(g[bi], 1) << " " << unit
          << "</title></rect>\n";
      }
      s << "<text x=\"" << gx + group_w / 2 << "\" y=\"" << top + panel_h + 16
        << "\" text-anchor=\"middle\" font-size=\"10\">" << Escape(modes[gi].name) << "</text>\n";
    }
    for (size_t si = 0; si < series_names.size() && series_names.size() > 1; ++si) {
      s << "<rect x=\"" << x0 << "\" y=\"" << top + panel_h + 30 + 16 * si << "\" width=\"10\" height=\"10\" fill=\""
        << kColors[si % 6] << "\"/><text x=\"" << x0 + 14 << "\" y=\"" << top + panel_h + 39 + 16 * si << "\">"
        << Escape(series_names[si]) << "</text>\n";
    }
  };

  std::vector<std::vector<double>> ttft, tokens, decode, kv, wall;
  for (const auto& m : modes) {
    const std::vector<double> t = m.TtftMs();
    ttft.push_back({Percentile(t, 50), Percentile(t, 95)});
    tokens.push_back({static_cast<double>(m.ComputedTokens()), static_cast<double>(m.ReusedTokens())});
    decode.push_back({m.DecodeTokensPerSecond()});
    kv.push_back({static_cast<double>(m.peak_kv_bytes) / (1 << 20)});
    wall.push_back({m.wall_ms / 1000.0});
  }
  panel(0, "time to first token", ttft, {"p50", "p95"}, "ms");
  panel(1, "prompt tokens: computed vs reused", tokens, {"computed", "reused"}, "tokens");
  panel(2, "decode tokens/s, all agents", decode, {"tokens/s"}, "tokens/s");
  panel(3, "peak KV bytes in RAM", kv, {"MiB"}, "MiB");
  panel(4, "wall time", wall, {"s"}, "s");
  s << "</svg>\n";
  return s.str();
}

}  // namespace swarmkv::cli
