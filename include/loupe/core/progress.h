// A terminal progress bar with rate and ETA, e.g.
//   train epoch 2/5 [#########.........] 4800/9600 1.2k img/s ETA 0:04 loss 0.31 acc 0.92
// Silent when stdout is not a terminal (logs, CI, tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace loupe {

class Progress {
 public:
  // total: units of work; unit: what a unit is ("img", "step", "sample").
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  // Advances by n units and sets the text shown after the ETA (an empty postfix
  // keeps the previous one).
  void advance(int64_t n = 1, const std::string& postfix = "");
  // Ends the line (called by the destructor if not called before).
  void finish();
  static bool enabled();  // true when stdout is a terminal

 private:
  void draw(bool final_draw);
  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool finished_ = false, enabled_;
};

// Seconds elapsed on the steady clock since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "1:05", "2:03:04" (rounded to the second); "?:??" for negative or non-finite input.
std::string format_duration(double seconds);
// Units per second with a k/M suffix: "0.50", "12.3", "950", "1.2k", "3.4M".
std::string format_rate(double per_second);

namespace detail {
// The text Progress draws (before clipping to the terminal width): label, bar,
// done/total, rate, then ETA (or the elapsed time once finished) and the postfix.
// total <= 0 means unknown: no bar and no ETA.
std::string progress_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                          double elapsed_seconds, const std::string& postfix, bool finished);
}  // namespace detail

}  // namespace loupe
