// Helpers every test file may use: a temporary folder removed at scope exit, the
// message of the loupe::Error a call throws, and substring search.
#pragma once

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <system_error>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"

namespace loupe::test {

// A fresh folder under the system temp directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("loupe_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// What f throws as a loupe::Error, or "(no loupe::Error thrown)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no loupe::Error thrown)";
}
inline std::string message_of(const std::function<void()>& f) { return error_of(f); }

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A report folder's metrics.json (or any JSON file), parsed.
inline nlohmann::json read_metrics(const fs::path& dir) {
  std::ifstream in(dir / "metrics.json");
  return nlohmann::json::parse(in);
}

}  // namespace loupe::test
