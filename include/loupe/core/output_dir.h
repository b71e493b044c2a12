// Output folders that tell the truth: one run at a time per folder (an flock'd lock
// file holding the pid), no report of an earlier run left beside this run's files, and
// no writes through a symbolic link below the folder. Locks are flock(2) locks, so a
// lock file left by a killed process is taken over; they are advisory and local.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"

namespace loupe {

// An exclusive lock on `path` for this object's lifetime: creates the missing folders
// above it and the file, writes this process's pid into it. A lock held by another
// run is a loupe::Error naming `what` (e.g. "--out runs/bias") and that run's pid; an
// unwritable folder is a loupe::Error too, so the lock doubles as a write probe.
// Released on destruction: the file is removed, and so are the folders it created if
// they are still empty (a run that failed before writing leaves nothing behind).
class FileLock {
 public:
  FileLock(const fs::path& path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  fs::path created_top_;  // the topmost folder this lock created, or empty
  int fd_ = -1;
};

struct OutputDirOptions {
  std::string option = "--out";  // how the folder was given, named in every error
  // An earlier run's results, removed on open so the folder never shows them beside
  // this run's files; the report is written last (atomically), so it marks a complete run.
  std::vector<std::string> final_files = {"report.html", "metrics.json"};
  // The folders below it the run writes into: a link among them fails the open, before
  // any work (a link deeper down fails the write that would pass through it).
  std::vector<std::string> subfolders;

  // clang-format off
  OutputDirOptions& set_option(std::string v) { option = std::move(v); return *this; }
  OutputDirOptions& set_final_files(std::vector<std::string> v) { final_files = std::move(v); return *this; }
  OutputDirOptions& set_subfolders(std::vector<std::string> v) { subfolders = std::move(v); return *this; }
  // clang-format on
};

// A run's output folder, open for the object's lifetime. Opening refuses an empty
// path or a file, creates the folder, takes `.loupe.lock` in it, removes the final
// files of an earlier run and refuses links among its subfolders. While it is open,
// write_atomic / write_file_atomic refuse any path through a symbolic link below it.
class OutputDir {
 public:
  static constexpr const char* kLockName = ".loupe.lock";

  explicit OutputDir(const fs::path& root, const OutputDirOptions& options = {});
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  const fs::path& path() const { return root_; }

 private:
  fs::path root_, guarded_;
  std::unique_ptr<FileLock> lock_;
};

// Throws loupe::Error if `path` lies below an open OutputDir and a component of it
// below that folder (the file itself included) is a symbolic link.
void check_output_path(const fs::path& path);

}  // namespace loupe
