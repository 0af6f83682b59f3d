// salient/train/progress.hpp — Keras-style progress output for fit().
//
// Terminal (stdout is a tty, or style = Bar):
//   Epoch 3/10
//   12/20 [==================>...........] - ETA: 2s - loss: 0.4312 - accuracy: 0.8125
//   ... redrawn in place (at most every 0.1 s), and at the end of the epoch:
//   20/20 [==============================] - 4s 201ms/step - loss: 0.4011 - accuracy: 0.8300 - val_loss: ...
// Otherwise (a file or a pipe, or style = Lines) one plain line per epoch:
//   Epoch 3/10 - 20 batches - 4.0s - loss: 0.4011 - accuracy: 0.8300 - val_loss: ... - lr: 1.0e-03
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include "../core/config.hpp"

namespace salient {

enum class ProgressStyle { Auto, Bar, Lines };

/// True if standard output is a terminal.
inline bool stdout_is_terminal() {
#if defined(_WIN32)
  return _isatty(_fileno(stdout)) != 0;
#else
  return ::isatty(::fileno(stdout)) != 0;
#endif
}

using NamedValues = std::vector<std::pair<std::string, double>>;

inline std::string format_values(const NamedValues& v) {
  std::string s;
  char buf[96];
  for (const auto& [name, x] : v) {
    if (name == "lr") std::snprintf(buf, sizeof buf, " - %s: %.1e", name.c_str(), x);
    else std::snprintf(buf, sizeof buf, " - %s: %.4f", name.c_str(), x);
    s += buf;
  }
  return s;
}

inline std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 60) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else if (seconds < 3600) std::snprintf(buf, sizeof buf, "%d:%02d", int(seconds) / 60, int(seconds) % 60);
  else std::snprintf(buf, sizeof buf, "%d:%02d:%02d", int(seconds) / 3600, int(seconds) / 60 % 60, int(seconds) % 60);
  return buf;
}

class Progress {
 public:
  using clock = std::chrono::steady_clock;

  /// verbose 0: silent. out = nullptr: std::cout. Auto style: a bar only on a terminal.
  Progress(int verbose, std::ostream* out, ProgressStyle style)
      : verbose_(verbose), out_(out ? out : &std::cout) {
    bar_ = style == ProgressStyle::Bar || (style == ProgressStyle::Auto && out_ == &std::cout && stdout_is_terminal());
  }

  bool bar() const { return bar_; }

  void epoch_begin(Index epoch, Index epochs, Index batches) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
    last_len_ = 0;
    if (verbose_ > 0 && bar_) *out_ << "Epoch " << epoch + 1 << "/" << epochs << "\n" << std::flush;
  }

  void batch_end(Index done, const NamedValues& running) {
    if (verbose_ <= 0 || !bar_) return;
    const auto now = clock::now();
    if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double el = elapsed();
    const double eta = done > 0 ? el / double(done) * double(batches_ - done) : 0.0;
    draw(bar_line(done) + " - ETA: " + format_duration(eta) + format_values(running), false);
  }

  void epoch_end(Index done, const NamedValues& all) {
    if (verbose_ <= 0) return;
    const double el = elapsed();
    if (bar_) {
      char per[48];
      std::snprintf(per, sizeof per, " - %s %.0fms/step", format_duration(el).c_str(),
                    done > 0 ? 1000.0 * el / double(done) : 0.0);
      draw(bar_line(done) + per + format_values(all), true);
    } else {
      char head[96];
      std::snprintf(head, sizeof head, "Epoch %lld/%lld - %lld batches - %.1fs", (long long)epoch_ + 1,
                    (long long)epochs_, (long long)done, el);
      *out_ << head << format_values(all) << "\n" << std::flush;
    }
  }

  void message(const std::string& text) {
    if (verbose_ > 0) *out_ << text << "\n" << std::flush;
  }

  double elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  std::string bar_line(Index done) const {
    constexpr int width = 30;
    const std::string total = std::to_string(batches_);
    std::string d = std::to_string(done);
    if (d.size() < total.size()) d.insert(0, total.size() - d.size(), ' ');
    const int filled = batches_ > 0 ? int(double(width) * double(done) / double(batches_)) : width;
    std::string b = d + "/" + total + " [";
    for (int i = 0; i < width; ++i) b += i < filled ? '=' : (i == filled && done < batches_ ? '>' : '.');
    return b + "]";
  }
  void draw(const std::string& line, bool final) {
    std::string s = "\r" + line;
    if (line.size() < last_len_) s.append(last_len_ - line.size(), ' ');
    last_len_ = line.size();
    if (final) s += "\n";
    *out_ << s << std::flush;
  }

  int verbose_;
  std::ostream* out_;
  bool bar_ = false;
  Index epoch_ = 0, epochs_ = 0, batches_ = 0;
  clock::time_point start_{}, last_draw_{};
  std::size_t last_len_ = 0;
};

}  // namespace salient
