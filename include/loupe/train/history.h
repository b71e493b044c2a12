// Training history: what every training run logs, in one form for every objective.
// A step logs named quantities as sums over counts (a batch's summed loss over its
// images, or one value over one step); a record (an epoch, or log_every steps) is the
// ratio of their totals, so per-image and per-step means are both exact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loupe {

// What one optimiser step logs.
class StepLog {
 public:
  // The step's value of `name` is sum / count; a record adds sums and counts.
  void add(const std::string& name, double sum, double count = 1);
  // sum / count of `name`; NaN when it was not logged.
  double value(const std::string& name) const;
  struct Part {
    double sum = 0, count = 0;
  };
  const std::map<std::string, Part>& parts() const { return parts_; }

 private:
  std::map<std::string, Part> parts_;
};

// One history record: values over a span of training ending at `step`.
struct HistoryRecord {
  int64_t step = 0;                       // optimiser steps completed at the record's end
  int64_t epoch = 0;                      // 1-based epoch the record ends in
  std::map<std::string, double> values;  // NaN = not measured (null in JSON)
  double value(const std::string& name) const;  // NaN when absent
};
using History = std::vector<HistoryRecord>;

// The running totals of a record's steps.
class RecordAccumulator {
 public:
  void add(const StepLog& log);
  int64_t steps() const { return steps_; }
  double mean(const std::string& name) const;  // Σ sum / Σ count; NaN when never logged
  HistoryRecord record(int64_t step, int64_t epoch) const;

 private:
  int64_t steps_ = 0;
  std::map<std::string, StepLog::Part> totals_;
};

// A history as JSON (an array of {"step", "epoch", values...}; NaN as null).
std::string history_to_json(const History& history);
// Errors name what is malformed ("training history: ...").
History history_from_json(const std::string& json);

// The values of `name` over the records, in order.
std::vector<double> history_series(const History& history, const std::string& name);
// The same, each value replaced by the mean of the last `window` records up to it
// (fewer at the start): per-step values are noisy.
std::vector<double> history_moving_mean(const History& history, const std::string& name, size_t window = 10);

}  // namespace loupe
