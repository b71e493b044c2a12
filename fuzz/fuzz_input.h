// What every harness shares: the fuzz input as bytes, a file in tmpfs for the readers
// that only take a path, and the rule that a loupe::Error is the only acceptable way
// to refuse an input (anything else escaping aborts, and libFuzzer reports it).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"

namespace loupe::fuzz {

inline std::string input_bytes(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// The input written to a file in /dev/shm (tmpfs; the temp folder where there is
// none), for the readers that only take a path; removed when it goes out of scope.
// Each input gets a new file: a library that recognises open files by inode (HDF5
// does) must not take one input for the previous one.
class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size, const std::string& extension)
      : path_(folder() / name(getpid(), extension)) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out.flush()) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
  }
  ~InputFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  static constexpr char kPrefix[] = "loupe_fuzz_";
  static std::string name(pid_t pid, const std::string& extension) { return kPrefix + std::to_string(pid) + extension; }
  // The folder, swept once per process of the files that crashed processes left.
  static const fs::path& folder() {
    static const fs::path dir = [] {
      std::error_code ec;
      const fs::path d = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
      for (const auto& entry : fs::directory_iterator(d, ec)) {
        const std::string file = entry.path().filename().string();
        if (file.rfind(kPrefix, 0) != 0) continue;
        const pid_t owner = static_cast<pid_t>(std::atol(file.c_str() + sizeof kPrefix - 1));
        if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
      }
      return d;
    }();
    return dir;
  }
  fs::path path_;
};

// Runs parse(); a loupe::Error is a refused input, which is fine.
template <class Parse>
void refuse_only_with_loupe_errors(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

// A property a parsed input must have; a violation is a finding.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace loupe::fuzz
