#include "loupe/train/history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "loupe/core/error.h"

namespace loupe {
namespace {

constexpr double kHistoryNaN = std::numeric_limits<double>::quiet_NaN();

// JSON has no NaN: a quantity that was not measured is written as null.
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

int64_t history_counter(const nlohmann::json& record, const char* key) {
  LOUPE_CHECK(record.contains(key), "training history: a record has no '", key, "' field");
  const auto& v = record.at(key);
  LOUPE_CHECK(v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= 0 &&
                  v.get<double>() == std::floor(v.get<double>()),
              "training history: field '", key, "' should be a whole number >= 0, found ", v.dump());
  return v.get<int64_t>();
}

}  // namespace

void StepLog::add(const std::string& name, double sum, double count) {
  auto& part = parts_[name];
  part.sum += sum;
  part.count += count;
}

double StepLog::value(const std::string& name) const {
  const auto it = parts_.find(name);
  return it == parts_.end() ? kHistoryNaN : it->second.sum / it->second.count;
}

double HistoryRecord::value(const std::string& name) const {
  const auto it = values.find(name);
  return it == values.end() ? kHistoryNaN : it->second;
}

void RecordAccumulator::add(const StepLog& log) {
  ++steps_;
  for (const auto& [name, part] : log.parts()) {
    auto& total = totals_[name];
    total.sum += part.sum;
    total.count += part.count;
  }
}

double RecordAccumulator::mean(const std::string& name) const {
  const auto it = totals_.find(name);
  return it == totals_.end() ? kHistoryNaN : it->second.sum / it->second.count;
}

HistoryRecord RecordAccumulator::record(int64_t step, int64_t epoch) const {
  HistoryRecord r;
  r.step = step;
  r.epoch = epoch;
  for (const auto& [name, total] : totals_) r.values[name] = total.sum / total.count;
  return r;
}

std::string history_to_json(const History& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : history) {
    nlohmann::json item = {{"step", r.step}, {"epoch", r.epoch}};
    for (const auto& [name, v] : r.values) item[name] = number_or_null(v);
    out.push_back(std::move(item));
  }
  return out.dump();
}

History history_from_json(const std::string& json) {
  nlohmann::json in;
  try {
    in = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    fail("training history: not valid JSON (", e.what(), ")");
  }
  LOUPE_CHECK(in.is_array(), "training history: expected a JSON array of records, found ", in.type_name());
  History history;
  for (const auto& item : in) {
    LOUPE_CHECK(item.is_object(), "training history: expected a record object, found ", item.dump());
    HistoryRecord r;
    r.step = history_counter(item, "step");
    r.epoch = history_counter(item, "epoch");
    for (const auto& [name, v] : item.items()) {
      if (name == "step" || name == "epoch") continue;
      LOUPE_CHECK(v.is_null() || v.is_number(), "training history: field '", name,
                  "' should be a number or null, found ", v.dump());
      r.values[name] = v.is_null() ? kHistoryNaN : v.get<double>();
    }
    history.push_back(std::move(r));
  }
  return history;
}

std::vector<double> history_series(const History& history, const std::string& name) {
  std::vector<double> out;
  out.reserve(history.size());
  for (const auto& r : history) out.push_back(r.value(name));
  return out;
}

std::vector<double> history_moving_mean(const History& history, const std::string& name, size_t window) {
  const auto values = history_series(history, name);
  std::vector<double> out;
  out.reserve(values.size());
  double sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out.push_back(sum / static_cast<double>(std::min(i + 1, window)));
  }
  return out;
}

}  // namespace loupe
