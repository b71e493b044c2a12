// What every harness shares: the fuzz input as bytes, a file in tmpfs for the parsers
// that only take a path, and the rule that a loupe::Error is the only acceptable way
// to refuse an input (anything else escaping aborts, and libFuzzer reports it).
#pragma once

#include <unistd.h>

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

// Writes the input to a per-process file in /dev/shm (tmpfs; the temp folder where
// there is none) and returns its path. The file is created anew for every input: a
// library that recognises open files by inode (HDF5 does) must not take one input
// for the previous one.
inline fs::path input_file(const uint8_t* data, size_t size, const std::string& extension) {
  static const fs::path path = [&] {
    std::error_code ec;
    const fs::path dir = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    return dir / ("loupe_fuzz_" + std::to_string(getpid()) + extension);
  }();
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

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
