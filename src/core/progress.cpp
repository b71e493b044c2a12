#include "loupe/core/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace loupe {

namespace {

constexpr int kBarWidth = 24;
// At most ~10 redraws a second: more is invisible and costs time in tight loops.
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

size_t terminal_columns() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?:??";
  const long long total = std::llround(seconds);
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", h, m, s);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", m, s);
  return buf;
}

std::string format_rate(double per_second) {
  if (!std::isfinite(per_second) || per_second < 0) return "?";
  char buf[32];
  if (per_second >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", per_second / 1e3);
  else if (per_second >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  else if (per_second >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", per_second);
  else
    std::snprintf(buf, sizeof buf, "%.2f", per_second);
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - kRedrawInterval),
      enabled_(enabled()) {}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {
    // A destructor may run during unwinding; a failed terminal write must not terminate.
  }
}

bool Progress::enabled() { return isatty(STDOUT_FILENO) == 1; }

void Progress::advance(int64_t n, const std::string& postfix) {
  done_ += n;
  if (!postfix.empty()) postfix_ = postfix;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= kRedrawInterval) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void Progress::draw(bool final_draw) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = detail::progress_line(label_, done_, total_, unit_, elapsed, postfix_, final_draw);
  // A line wider than the terminal wraps, and then \r no longer returns to its start.
  const size_t columns = terminal_columns();
  if (line.size() >= columns) line.resize(columns - 1);
  std::cout << '\r' << line << "\x1b[K";
  if (final_draw) std::cout << '\n';
  std::cout << std::flush;
}

namespace detail {

std::string progress_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                          double elapsed_seconds, const std::string& postfix, bool finished) {
  const double rate = elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0.0;
  std::string line = label;
  if (total > 0) {
    const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    const int filled = static_cast<int>(fraction * kBarWidth);
    line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    line += std::to_string(done) + "/" + std::to_string(total);
  } else {
    line += " " + std::to_string(done);
  }
  line += " " + format_rate(rate) + " " + unit + "/s";
  if (finished)
    line += " in " + format_duration(elapsed_seconds);
  else if (total > 0 && done > 0 && rate > 0)
    line += " ETA " + format_duration(static_cast<double>(std::max<int64_t>(total - done, 0)) / rate);
  if (!postfix.empty()) line += " " + postfix;
  return line;
}

}  // namespace detail

}  // namespace loupe
