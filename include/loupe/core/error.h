// The one error type for user mistakes (bad paths, corrupt files, wrong shapes,
// unknown names). Messages name the input, the value seen and what was expected.
// Internal invariants use assert(), not this.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace loupe {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws loupe::Error with the streamed arguments as its message.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::concat(args...));
}

// "a, b, c": lists valid names in messages.
inline std::string join_names(const std::vector<std::string>& names, const std::string& separator = ", ") {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : separator) + n;
  return out;
}

}  // namespace loupe

// LOUPE_CHECK(cond, "input ", path, ": expected ...") throws loupe::Error when cond is false.
#define LOUPE_CHECK(cond, ...)        \
  do {                                \
    if (!(cond)) ::loupe::fail(__VA_ARGS__); \
  } while (0)
