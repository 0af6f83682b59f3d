// html_report.hpp — writes the demo's self-contained HTML report (inline SVG, no network).
// Example-local: plain structs in, one .html file out; it knows nothing of models.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace report {

struct SeriesView {
  std::string title;                               // e.g. "test series 17"
  std::vector<std::vector<double>> signal;         // [channel][time], valid steps only
  std::vector<double> attribution;                 // [time] ≥ 0, for the explained label
  std::string explained_label;                     // which label the strip explains
  std::vector<std::pair<int, int>> true_windows;   // [start, end) of every true defect
  std::vector<std::string> true_labels, predicted_labels;
  std::vector<std::pair<std::string, double>> probabilities;  // label → probability
  bool correct = true;
};

struct Curve {
  std::string name;
  std::vector<double> values;
};

inline std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

inline std::string num(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// One series: a panel per sensor (polyline), true windows shaded, attribution heat strip below.
inline std::string series_svg(const SeriesView& s) {
  const int W = 720, panel_h = 70, strip_h = 18, pad = 30;
  const int C = int(s.signal.size());
  const int T = C ? int(s.signal[0].size()) : 0;
  const int H = C * (panel_h + 6) + strip_h + 30;
  const double dx = T > 1 ? double(W - 2 * pad) / double(T - 1) : 1.0;
  const double cell = T > 0 ? double(W - 2 * pad) / double(T) : 1.0;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"11\">";
  static const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"};
  for (int c = 0; c < C; ++c) {
    const auto& v = s.signal[std::size_t(c)];
    const double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    const double span = hi - lo > 1e-12 ? hi - lo : 1.0;
    const int y0 = c * (panel_h + 6);
    o << "<rect x=\"" << pad << "\" y=\"" << y0 << "\" width=\"" << W - 2 * pad << "\" height=\"" << panel_h
      << "\" fill=\"#fafafa\" stroke=\"#ddd\"/>";
    for (auto [a, b] : s.true_windows)
      o << "<rect x=\"" << num(pad + (a - 0.5) * dx, 1) << "\" y=\"" << y0 << "\" width=\""
        << num(std::max(1.0, (b - a) * dx), 1) << "\" height=\"" << panel_h
        << "\" fill=\"#d62728\" fill-opacity=\"0.12\"/>";
    o << "<polyline fill=\"none\" stroke=\"" << colours[c % 6] << "\" stroke-width=\"1.5\" points=\"";
    for (int t = 0; t < T; ++t)
      o << num(pad + t * dx, 1) << "," << num(y0 + 4 + (panel_h - 8) * (1.0 - (v[std::size_t(t)] - lo) / span), 1) << " ";
    o << "\"/><text x=\"2\" y=\"" << y0 + panel_h / 2 << "\">s" << c + 1 << "</text>";
  }
  const int ys = C * (panel_h + 6);
  double amax = 0;
  for (double a : s.attribution) amax = std::max(amax, a);
  for (int t = 0; t < int(s.attribution.size()); ++t) {
    const double a = amax > 0 ? s.attribution[std::size_t(t)] / amax : 0.0;
    o << "<rect x=\"" << num(pad + t * cell - 0.5 * dx, 1) << "\" y=\"" << ys << "\" width=\"" << num(cell + 0.6, 1)
      << "\" height=\"" << strip_h << "\" fill=\"#d62728\" fill-opacity=\"" << num(a, 3) << "\"/>";
  }
  o << "<rect x=\"" << pad << "\" y=\"" << ys << "\" width=\"" << W - 2 * pad << "\" height=\"" << strip_h
    << "\" fill=\"none\" stroke=\"#999\"/>";
  o << "<text x=\"2\" y=\"" << ys + 13 << "\">attr</text>";
  o << "<text x=\"" << pad << "\" y=\"" << ys + strip_h + 14 << "\">attribution for '" << esc(s.explained_label)
    << "' (darker = more relevant); shaded = true defect windows</text>";
  o << "</svg>";
  return o.str();
}

inline std::string curves_svg(const std::vector<Curve>& curves, const std::string& title) {
  const int W = 520, H = 220, pad = 40;
  double lo = 1e300, hi = -1e300;
  std::size_t n = 0;
  for (const auto& c : curves)
    for (double v : c.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v), n = std::max(n, c.values.size());
  if (!(hi > lo)) hi = lo + 1;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\"><text x=\"" << pad << "\" y=\"14\">" << esc(title) << "</text>";
  o << "<rect x=\"" << pad << "\" y=\"20\" width=\"" << W - 2 * pad << "\" height=\"" << H - 50
    << "\" fill=\"none\" stroke=\"#ccc\"/>";
  static const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
  int k = 0;
  for (const auto& c : curves) {
    o << "<polyline fill=\"none\" stroke=\"" << colours[k % 4] << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < c.values.size(); ++i) {
      if (!std::isfinite(c.values[i])) continue;
      const double x = pad + (n > 1 ? double(i) / double(n - 1) : 0.0) * (W - 2 * pad);
      const double y = 20 + (H - 50) * (1.0 - (c.values[i] - lo) / (hi - lo));
      o << num(x, 1) << "," << num(y, 1) << " ";
    }
    o << "\"/><text x=\"" << pad + 10 + 120 * k << "\" y=\"" << H - 8 << "\" fill=\"" << colours[k % 4] << "\">"
      << esc(c.name) << "</text>";
    ++k;
  }
  o << "<text x=\"2\" y=\"28\">" << num(hi, 3) << "</text><text x=\"2\" y=\"" << H - 30 << "\">" << num(lo, 3)
    << "</text></svg>";
  return o.str();
}

inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

/// Write the whole report. `metrics_text` is preformatted (the classification report).
inline void write(const std::string& path, const std::string& title, const std::string& summary_html,
                  const std::string& metrics_text, const std::vector<Curve>& loss_curves,
                  const std::vector<Curve>& metric_curves, const std::vector<SeriesView>& series) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write report " + path);
  f << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>" << esc(title)
    << "</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
       "pre{background:#f6f6f6;padding:1em;overflow:auto}.card{border:1px solid #ddd;border-radius:6px;"
       "padding:0.6em 1em;margin:1em 0}.bad{border-color:#d62728}.lab{font-size:0.9em}"
       "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee}</style></head><body>\n";
  f << "<h1>" << esc(title) << "</h1>\n" << summary_html << "\n";
  f << "<h2>Training</h2>\n<div>" << curves_svg(loss_curves, "loss per epoch") << " "
    << curves_svg(metric_curves, "subset accuracy per epoch") << "</div>\n";
  f << "<h2>Test metrics</h2>\n<pre>" << esc(metrics_text) << "</pre>\n";
  f << "<h2>Explained test series</h2>\n";
  for (const auto& s : series) {
    f << "<div class=\"card" << (s.correct ? "" : " bad") << "\"><b>" << esc(s.title) << "</b>"
      << (s.correct ? "" : " — <span style=\"color:#d62728\">misclassified</span>") << "<div class=\"lab\">true: "
      << esc(join(s.true_labels)) << " | predicted: " << esc(join(s.predicted_labels)) << "<br/>probabilities: ";
    for (auto& [name, p] : s.probabilities) f << esc(name) << " " << num(p, 3) << "&#160;&#160; ";
    f << "</div>" << series_svg(s) << "</div>\n";
  }
  f << "</body></html>\n";
}

}  // namespace report
