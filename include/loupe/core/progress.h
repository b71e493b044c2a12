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
  // Advances by n units and sets the text shown after the ETA.
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

// "1:05", "2:03:04"
std::string format_duration(double seconds);

}  // namespace loupe
