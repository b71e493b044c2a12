#include "loupe/core/fs.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <sstream>

#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"

namespace loupe {

std::string read_file(const fs::path& path) {
  std::error_code ec;
  LOUPE_CHECK(fs::exists(path, ec), path.string(), ": file not found");
  LOUPE_CHECK(!fs::is_directory(path, ec), path.string(), ": expected a file, found a directory");
  std::ifstream in(path, std::ios::binary);
  LOUPE_CHECK(in.good(), path.string(), ": cannot open for reading");
  std::ostringstream os;
  os << in.rdbuf();
  LOUPE_CHECK(!in.bad(), path.string(), ": read error");
  return os.str();
}

namespace {
fs::path temporary_beside(const fs::path& path) {
  static std::mt19937_64 rng(std::random_device{}());
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(rng() % 1000000000ULL);
  return tmp;
}
}  // namespace

void write_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  check_output_path(path);  // no writes through a link inside an open output folder
  if (path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    LOUPE_CHECK(!ec, path.parent_path().string(), ": cannot create folder (", ec.message(), ")");
  }
  const fs::path tmp = temporary_beside(path);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      LOUPE_CHECK(out.good(), path.string(), ": cannot open for writing");
      write(out);
      out.flush();
      LOUPE_CHECK(out.good(), path.string(), ": write failed (disk full?)");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    LOUPE_CHECK(!ec, path.string(), ": cannot move the finished file into place (", ec.message(), ")");
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  write_atomic(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace loupe
