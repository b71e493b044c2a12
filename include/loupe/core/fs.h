// File helpers: whole-file reads that name the path in their errors, and atomic
// writes (write to a temporary beside the target, then rename) so that no
// half-written output is ever left behind.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>

namespace loupe {

namespace fs = std::filesystem;

// Reads the whole file; a missing or unreadable file is a loupe::Error naming it.
std::string read_file(const fs::path& path);

// Writes bytes to path atomically; creates parent folders. Below an open OutputDir, a
// path through a symbolic link is refused (output_dir.h).
void write_file_atomic(const fs::path& path, const std::string& bytes);

// Streams into a temporary file via `write`, then renames it over path. If
// `write` throws, the temporary is removed and the exception propagates.
void write_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write);

// Lowercased extension without the dot: "a/B.PNG" -> "png".
std::string lower_extension(const fs::path& path);

}  // namespace loupe
