#include "loupe/core/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// The open OutputDirs' folders, absolute and lexically normal; write_atomic consults them.
std::mutex& guarded_mutex() {
  static std::mutex m;
  return m;
}
std::vector<fs::path>& guarded_roots() {
  static std::vector<fs::path> roots;
  return roots;
}

fs::path absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  a = a.lexically_normal();
  // "/a/b/" → "/a/b", so that lexically_relative compares whole components.
  if (a.filename().empty() && a != a.root_path()) a = a.parent_path();
  return a;
}

std::string errno_text(int err) { return std::generic_category().message(err); }

// The pid a lock file holds, for the message that refuses a second run.
std::string lock_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  pid.erase(std::remove_if(pid.begin(), pid.end(), [](char c) { return c < '0' || c > '9'; }), pid.end());
  return pid.empty() ? "unknown" : pid;
}

// Throws if a component of `path` below `root` (absolute and normal) is a symbolic link;
// the message starts with `who`.
void check_no_link_below(const fs::path& root, const fs::path& path, const std::string& who) {
  const fs::path relative = absolute_normal(path).lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") return;  // not below this folder
  fs::path p = root;
  for (const auto& part : relative) {
    if (part.empty() || part == ".") continue;
    p /= part;
    std::error_code ec;
    const auto status = fs::symlink_status(p, ec);
    LOUPE_CHECK(!fs::is_symlink(status), who, ": ", p.string(), " is a symbolic link inside the output folder ",
                root.string(), "; loupe does not write through links there (remove the link or choose another --out)");
    if (!fs::exists(status)) return;  // the rest does not exist yet
  }
}

}  // namespace

FileLock::FileLock(const fs::path& path, const std::string& what) : path_(path) {
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  // The folders that do not exist yet, deepest first: removed on release if still empty.
  std::vector<fs::path> missing;
  for (fs::path p = folder; !p.empty() && !fs::exists(fs::symlink_status(p, ec)); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  fs::create_directories(folder, ec);
  if (ec) {
    const std::string reason = ec.message();
    for (const auto& p : missing) fs::remove(p, ec);  // only removes empty ones
    fail(what, ": cannot create folder ", folder.string(), " (", reason, ")");
  }
  if (!missing.empty()) created_top_ = missing.back();
  for (int attempt = 0; fd_ < 0; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    const int open_err = errno;
    try {
      LOUPE_CHECK(fd >= 0, what, ": cannot write into ", folder.string(), " (creating ", path.filename().string(), ": ",
                  errno_text(open_err), ")");
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string holder = lock_holder(fd);
        ::close(fd);
        LOUPE_CHECK(err != EWOULDBLOCK, what, ": in use by another loupe run (pid ", holder,
                    "); wait for it to finish or write elsewhere (lock file ", path.string(), ")");
        fail(what, ": cannot lock ", path.string(), " (", errno_text(err), ")");
      }
      // The previous holder may have removed the file between our open and flock: then
      // the lock is on a file no one else sees, so try again on the current one.
      struct stat held;
      struct stat current;
      if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &current) == 0 && held.st_ino == current.st_ino &&
          held.st_dev == current.st_dev) {
        fd_ = fd;
      } else {
        ::close(fd);
        LOUPE_CHECK(attempt < 100, what, ": cannot lock ", path.string(), " (it keeps being replaced)");
      }
    } catch (...) {
      for (const auto& p : missing) fs::remove(p, ec);
      throw;
    }
  }
  // A lock file left by a killed run holds its pid but no flock: it is simply taken over.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    for (const auto& p : missing) fs::remove(p, ec);
    fail(what, ": cannot write ", path.string(), " (", errno_text(err), ")");
  }
}

FileLock::~FileLock() {
  // Unlink before closing, so that no one locks the file we are about to give up.
  ::unlink(path_.c_str());
  ::close(fd_);
  if (created_top_.empty()) return;
  std::error_code ec;
  const fs::path folder = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  for (fs::path p = folder; !p.empty(); p = p.parent_path()) {
    if (!fs::is_empty(p, ec) || ec || !fs::remove(p, ec)) return;
    if (p == created_top_) return;
  }
}

OutputDir::OutputDir(const fs::path& root, const OutputDirOptions& options) : root_(root) {
  LOUPE_CHECK(!root.empty(), options.option, ": empty path; expected a folder to write into (e.g. ", options.option,
              " loupe-out)");
  const std::string what = options.option + " " + root.string();
  std::error_code ec;
  const auto status = fs::status(root, ec);
  LOUPE_CHECK(!fs::exists(status) || fs::is_directory(status), what, ": is a file; expected a folder");
  check_output_path(root);  // e.g. a study's folder inside loupe demo's
  guarded_ = absolute_normal(root);
  for (const auto& sub : options.subfolders) check_no_link_below(guarded_, root / sub, what);
  lock_ = std::make_unique<FileLock>(root / kLockName, what);
  for (const auto& name : options.final_files) {
    fs::remove(root / name, ec);
    LOUPE_CHECK(!ec, what, ": cannot remove the earlier run's ", name, " (", ec.message(), ")");
  }
  const std::lock_guard<std::mutex> hold(guarded_mutex());
  guarded_roots().push_back(guarded_);
}

OutputDir::~OutputDir() {
  {
    const std::lock_guard<std::mutex> hold(guarded_mutex());
    auto& roots = guarded_roots();
    const auto it = std::find(roots.begin(), roots.end(), guarded_);
    if (it != roots.end()) roots.erase(it);
  }
  lock_.reset();
}

void check_output_path(const fs::path& path) {
  std::vector<fs::path> roots;
  {
    const std::lock_guard<std::mutex> hold(guarded_mutex());
    roots = guarded_roots();
  }
  for (const auto& root : roots) check_no_link_below(root, path, path.string());
}

}  // namespace loupe
