// Range checks of user options, shared by the CLI commands and the studies' resolve():
// the loupe::Error names the option, the value seen and what was expected, e.g.
// "--probe-images -1: expected a number from 1 to 100000".
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace loupe {

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// An integer option in [min, max]; `note` says what special values mean ("0 = all").
void check_count(const std::string& option, int64_t value, int64_t min, int64_t max, const std::string& note = "");

// A real option, finite and in [min, max].
void check_real(const std::string& option, double value, double min, double max, const std::string& note = "");

// A real option, finite, > 0 and <= max (learning rates, kernel widths).
void check_positive(const std::string& option, double value, double max = std::numeric_limits<double>::infinity());

// The side of square images in [1, kMaxImageSide]; above it the error states the memory
// one float image of `channels` x side x side would take.
constexpr int64_t kMaxImageSide = 4096;
void check_image_side(const std::string& option, int64_t side, int64_t channels, const std::string& note = "");

}  // namespace loupe
