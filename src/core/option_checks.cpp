#include "loupe/core/option_checks.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "loupe/core/error.h"

namespace loupe {
namespace {

std::string with_note(const std::string& note) { return note.empty() ? "" : " (" + note + ")"; }

}  // namespace

void check_count(const std::string& option, int64_t value, int64_t min, int64_t max, const std::string& note) {
  if (value >= min && value <= max) return;
  if (max == kNoLimit) fail(option, " ", value, ": expected a number >= ", min, with_note(note));
  fail(option, " ", value, ": expected a number from ", min, " to ", max, with_note(note));
}

void check_real(const std::string& option, double value, double min, double max, const std::string& note) {
  if (std::isfinite(value) && value >= min && value <= max) return;
  if (std::isinf(max)) fail(option, " ", value, ": expected a finite number >= ", min, with_note(note));
  fail(option, " ", value, ": expected a number from ", min, " to ", max, with_note(note));
}

void check_positive(const std::string& option, double value, double max) {
  if (std::isfinite(value) && value > 0 && value <= max) return;
  if (std::isinf(max)) fail(option, " ", value, ": expected a finite number > 0");
  fail(option, " ", value, ": expected a number > 0 and <= ", max);
}

void check_image_side(const std::string& option, int64_t side, int64_t channels, const std::string& note) {
  if (side > kMaxImageSide) {
    const double gib = static_cast<double>(channels) * static_cast<double>(side) * static_cast<double>(side) * 4.0 /
                       (1024.0 * 1024.0 * 1024.0);
    std::ostringstream size;
    size << std::fixed << std::setprecision(1) << gib;
    fail(option, " ", side, ": one ", channels, "x", side, "x", side, " float image alone needs ", size.str(),
         " GiB; expected a side from 1 to ", kMaxImageSide, with_note(note));
  }
  check_count(option, side, 1, kMaxImageSide, note);
}

}  // namespace loupe
