// OutputDir and FileLock: one run per folder (a second is refused naming the pid), a
// dead run's lock taken over, an earlier report removed on open, no writes through a
// symbolic link below the folder, and nothing left behind by a run that wrote nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error_matchers.h"
#include "loupe/core/fs.h"
#include "loupe/core/output_dir.h"
#include "test_util.h"

namespace loupe {
namespace {

std::string own_pid() { return std::to_string(::getpid()); }

std::string trimmed_file(const fs::path& path) {
  auto text = read_file(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// tmp/<root>/<link> is a link to the folder tmp/elsewhere; returns tmp/<root>.
fs::path folder_with_link_elsewhere(const fs::path& tmp, const std::string& root, const std::string& link) {
  fs::create_directories(tmp / root);
  fs::create_directories(tmp / "elsewhere");
  fs::create_directory_symlink(tmp / "elsewhere", tmp / root / link);
  return tmp / root;
}

}  // namespace

TEST(OutputDir, RefusesAnEmptyPathOrAFile) {
  EXPECT_LOUPE_ERROR(OutputDir(""), "--out: empty path");
  EXPECT_LOUPE_ERROR(OutputDir("", OutputDirOptions().set_option("--report")), "--report: empty path");
  test::TempDir tmp;
  write_file_atomic(tmp.path() / "plain", "x");
  EXPECT_LOUPE_ERROR(OutputDir(tmp.path() / "plain"), "is a file");
}

TEST(OutputDir, HoldsALockWithItsPidWhileOpen) {
  test::TempDir tmp;
  const auto root = tmp.path() / "run";
  {
    const OutputDir out(root);
    EXPECT_EQ(out.path(), root);
    ASSERT_TRUE(fs::exists(root / OutputDir::kLockName));
    EXPECT_EQ(trimmed_file(root / OutputDir::kLockName), own_pid());
    write_file_atomic(root / "report.html", "done");
  }
  EXPECT_FALSE(fs::exists(root / OutputDir::kLockName));
  EXPECT_TRUE(fs::exists(root / "report.html"));
}

TEST(OutputDir, ASecondRunOnTheSameFolderIsRefusedNamingFolderAndPid) {
  test::TempDir tmp;
  const auto root = tmp.path() / "run";
  const OutputDir first(root);
  const auto message = test::error_of([&] { OutputDir second(root); });
  EXPECT_TRUE(test::contains(message, "--out " + root.string())) << message;
  EXPECT_TRUE(test::contains(message, "pid " + own_pid())) << message;
  EXPECT_TRUE(test::contains(message, "in use by another loupe run")) << message;
  // The refused run took nothing away from the first.
  EXPECT_EQ(trimmed_file(root / OutputDir::kLockName), own_pid());
}

TEST(OutputDir, TakesOverTheLockOfADeadProcess) {
  test::TempDir tmp;
  const auto root = tmp.path() / "run";
  fs::create_directories(root);
  const auto lock = root / OutputDir::kLockName;
  // A child takes the lock as loupe does and dies without releasing it (as if killed).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    // Only async-signal-safe calls after fork: the pid's digits by hand.
    char pid[24];
    int n = sizeof pid;
    pid[--n] = '\n';
    for (long v = ::getpid(); v > 0; v /= 10) pid[--n] = static_cast<char>('0' + v % 10);
    const auto length = static_cast<ssize_t>(sizeof pid) - n;
    if (::write(fd, pid + n, static_cast<size_t>(length)) != length) ::_exit(1);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(trimmed_file(lock), std::to_string(child));

  const OutputDir out(root);
  EXPECT_EQ(trimmed_file(lock), own_pid());
}

TEST(OutputDir, RemovesAnEarlierRunsReportAndMetricsOnly) {
  test::TempDir tmp;
  const auto root = tmp.path();
  write_file_atomic(root / "report.html", "old report");
  write_file_atomic(root / "metrics.json", "{}");
  write_file_atomic(root / "index.html", "old index");
  write_file_atomic(root / "models" / "vae.pt", "weights");
  {
    const OutputDir out(root);
    EXPECT_FALSE(fs::exists(root / "report.html"));
    EXPECT_FALSE(fs::exists(root / "metrics.json"));
    EXPECT_TRUE(fs::exists(root / "index.html"));  // not a final file by default
    EXPECT_EQ(read_file(root / "models" / "vae.pt"), "weights");
  }
  const OutputDir demo(root, OutputDirOptions().set_final_files({"index.html"}));
  EXPECT_FALSE(fs::exists(root / "index.html"));
}

TEST(OutputDir, RefusesWritesThroughASymlinkBelowIt) {
  test::TempDir tmp;
  const auto root = folder_with_link_elsewhere(tmp.path(), "run", "models"), elsewhere = tmp.path() / "elsewhere";
  fs::create_symlink(elsewhere / "report.html", root / "report.html");
  {
    const OutputDir out(root);
    EXPECT_LOUPE_ERROR(write_file_atomic(root / "models" / "lazy.pt", "x"), "symbolic link");
    EXPECT_LOUPE_ERROR(write_file_atomic(root / "models" / "deeper" / "a.npy", "x"), (root / "models").string());
    EXPECT_LOUPE_ERROR(write_file_atomic(root / "sub" / ".." / "models" / "b.pt", "x"), "symbolic link");
    // The earlier run's report.html was a link: removed (the link, not its target), so writable.
    write_file_atomic(root / "report.html", "new");
    write_file_atomic(root / "maps" / "a.npy", "x");  // a real folder is fine
  }
  EXPECT_TRUE(fs::is_empty(elsewhere));
  EXPECT_FALSE(fs::is_symlink(root / "report.html"));
  EXPECT_EQ(read_file(root / "maps" / "a.npy"), "x");
}

TEST(OutputDir, ALinkAmongItsSubfoldersFailsTheOpenBeforeAnyChange) {
  test::TempDir tmp;
  const auto root = folder_with_link_elsewhere(tmp.path(), "run", "models");
  write_file_atomic(root / "report.html", "an earlier run's");
  const auto message = test::error_of([&] {
    OutputDir out(root, OutputDirOptions().set_subfolders({"maps", "models"}));
  });
  EXPECT_EQ(message, "--out " + root.string() + ": " + (root / "models").string() +
                         " is a symbolic link inside the output folder " + root.string() +
                         "; loupe does not write through links there (remove the link or choose another --out)");
  EXPECT_EQ(read_file(root / "report.html"), "an earlier run's");  // refused before anything changed
  EXPECT_FALSE(fs::exists(root / OutputDir::kLockName));
  const OutputDir without_models(root, OutputDirOptions().set_subfolders({"maps"}));  // a link it does not name
}

TEST(OutputDir, AllowsASymlinkedFolderItselfAndPathsOutsideIt) {
  test::TempDir tmp;
  const auto real = tmp.path() / "real", link = tmp.path() / "link";
  fs::create_directories(real);
  fs::create_directory_symlink(real, link);
  const OutputDir out(link);
  write_file_atomic(link / "maps" / "a.npy", "x");
  EXPECT_EQ(read_file(real / "maps" / "a.npy"), "x");
  fs::create_directories(tmp.path() / "other");
  fs::create_directory_symlink(real, tmp.path() / "other" / "models");
  write_file_atomic(tmp.path() / "other" / "models" / "b.npy", "y");  // not below an open OutputDir
  EXPECT_TRUE(fs::exists(real / "b.npy"));
}

TEST(OutputDir, RefusesAFolderInsideAnotherThroughALink) {
  test::TempDir tmp;
  const auto root = folder_with_link_elsewhere(tmp.path(), "demo", "bias");
  const OutputDir demo(root);
  EXPECT_LOUPE_ERROR(OutputDir(root / "bias"), "symbolic link");
  EXPECT_TRUE(fs::is_empty(tmp.path() / "elsewhere"));
}

TEST(OutputDir, ARunThatWroteNothingLeavesNoFolder) {
  test::TempDir tmp;
  const auto root = tmp.path() / "a" / "b" / "run";
  { const OutputDir out(root); }
  EXPECT_FALSE(fs::exists(tmp.path() / "a"));
  {
    const OutputDir out(root);
    write_file_atomic(root / "maps" / "x.npy", "x");
  }
  EXPECT_TRUE(fs::exists(root / "maps" / "x.npy"));
  EXPECT_FALSE(fs::exists(root / OutputDir::kLockName));
  // A folder that existed before is never removed.
  fs::create_directories(tmp.path() / "kept");
  { const OutputDir out(tmp.path() / "kept"); }
  EXPECT_TRUE(fs::is_directory(tmp.path() / "kept"));
}

TEST(OutputDir, AnUnwritableFolderIsRefusedUpFront) {
  test::TempDir tmp;
  fs::path read_only = tmp.path() / "read-only";
  if (::geteuid() == 0) {
    // root writes anywhere a mode allows; sysfs refuses new files even to root.
    if (!fs::is_directory("/sys")) GTEST_SKIP() << "no /sys to stand for a read-only folder";
    read_only = "/sys";
  } else {
    fs::create_directories(read_only);
    fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec);
  }
  EXPECT_LOUPE_ERROR(OutputDir{read_only}, "cannot write into " + read_only.string());
  EXPECT_LOUPE_ERROR(OutputDir(read_only / "run"), "cannot create folder");
  if (read_only != "/sys") fs::permissions(read_only, fs::perms::owner_all);
}

TEST(FileLock, ASecondLockOnTheSameFileIsRefusedNamingWhat) {
  test::TempDir tmp;
  const auto path = tmp.path() / "m.pt.lock";
  {
    const FileLock first(path, "--out m.pt");
    const auto message = test::error_of([&] { FileLock second(path, "--out m.pt"); });
    EXPECT_TRUE(test::contains(message, "--out m.pt: in use by another loupe run (pid " + own_pid())) << message;
  }
  EXPECT_FALSE(fs::exists(path));
  const FileLock again(path, "--out m.pt");  // released: free again
  EXPECT_EQ(trimmed_file(path), own_pid());
}

}  // namespace loupe
