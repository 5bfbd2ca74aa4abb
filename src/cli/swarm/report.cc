#include "cli/swarm/report.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "base/units.h"

namespace swarmkv::cli {
namespace {

double Sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
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

nlohmann::json ModeResult::ToJson() const {
  return {
      {"agents", agents},
      {"prompt_tokens", prompt_tokens},
      {"prompt_tokens_computed", prompt_tokens_computed},
      {"prompt_tokens_reused", prompt_tokens_reused},
      {"prompt_tokens_restored", prompt_tokens_restored},
      {"ttft_from", TtftSource(*this)},
      {"pin", pin.done ? nlohmann::json{{"ms", pin.ms}, {"tokens", pin.tokens}, {"reused", pin.reused},
                                         {"restored", pin.restored}, {"computed", pin.computed}}
                       : nlohmann::json(nullptr)},
      {"generated_tokens", generated_tokens},
      {"ttft_ms", ttft_ms},
      {"ttft_ms_total", Sum(ttft_ms)},
      {"ttft_ms_max", Max(ttft_ms)},
      {"total_ms", total_ms},
      {"peak_kv_bytes", peak_kv_bytes},
      {"peak_rss_bytes", peak_rss_bytes},
      {"wall_ms", wall_ms},
      {"errors", errors},
  };
}

std::string TtftSource(const ModeResult& m) {
  if (m.prompt_tokens_restored > 0) return "restore";
  return m.prompt_tokens_reused > 0 ? "reuse" : "compute";
}

std::string RenderTable(const std::vector<ModeResult>& modes) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %6s %10s %10s %10s %10s %9s %12s %12s %10s\n", "mode", "agents",
                "computed", "reused", "ttft_max", "ttft_sum", "ttft_from", "peak_kv", "peak_rss", "wall_s");
  os << line;
  for (const auto& m : modes) {
    std::snprintf(line, sizeof line, "%-16s %6d %10lld %10lld %10s %10s %9s %12s %12s %10s\n", m.name.c_str(),
                  m.agents, static_cast<long long>(m.prompt_tokens_computed),
                  static_cast<long long>(m.prompt_tokens_reused), (Fixed(Max(m.ttft_ms), 0) + "ms").c_str(),
                  (Fixed(Sum(m.ttft_ms), 0) + "ms").c_str(), TtftSource(m).c_str(), FormatBytes(m.peak_kv_bytes).c_str(),
                  FormatBytes(m.peak_rss_bytes).c_str(), Fixed(m.wall_ms / 1000.0, 2).c_str());
    os << line;
    if (m.pin.done)
      os << "    pin: " << m.pin.tokens << " context tokens resident in " << Fixed(m.pin.ms, 0) << "ms (reused "
         << m.pin.reused << ", restored " << m.pin.restored << ", computed " << m.pin.computed
         << ") before the agents started\n";
    for (const auto& e : m.errors) os << "    error: " << e << "\n";
  }
  return os.str();
}

std::string RenderSvg(const std::vector<ModeResult>& modes, const std::string& title) {
  // Three panels side by side: TTFT per agent, prompt tokens computed vs reused, peak KV bytes.
  const int panel_w = 360, panel_h = 260, top = 60, left = 50, gap = 40;
  const int width = left + 3 * (panel_w + gap), height = top + panel_h + 90;
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

  std::vector<std::vector<double>> ttft, tokens, kv;
  for (const auto& m : modes) {
    ttft.push_back(m.ttft_ms);
    tokens.push_back({static_cast<double>(m.prompt_tokens_computed), static_cast<double>(m.prompt_tokens_reused)});
    kv.push_back({static_cast<double>(m.peak_kv_bytes) / (1 << 20)});
  }
  panel(0, "time to first token, per agent", ttft, {"agent"}, "ms");
  panel(1, "prompt tokens: computed vs reused", tokens, {"computed", "reused"}, "tokens");
  panel(2, "peak KV bytes in RAM", kv, {"MiB"}, "MiB");
  s << "</svg>\n";
  return s.str();
}

}  // namespace swarmkv::cli
