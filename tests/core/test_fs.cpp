#include <gtest/gtest.h>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"

namespace loupe {

TEST(Fs, AtomicWriteRoundTripsAndLeavesNoTemporary) {
  const fs::path dir = fs::temp_directory_path() / "loupe_test_fs";
  fs::remove_all(dir);
  write_file_atomic(dir / "sub" / "a.bin", std::string("hello\0world", 11));
  EXPECT_EQ(read_file(dir / "sub" / "a.bin"), std::string("hello\0world", 11));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir / "sub")) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Fs, FailedWriteRemovesTemporaryAndKeepsOldFile) {
  const fs::path dir = fs::temp_directory_path() / "loupe_test_fs_fail";
  fs::remove_all(dir);
  write_file_atomic(dir / "a.txt", "old");
  EXPECT_THROW(write_atomic(dir / "a.txt", [](std::ostream& out) {
                 out << "partial";
                 fail("boom");
               }),
               Error);
  EXPECT_EQ(read_file(dir / "a.txt"), "old");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Fs, MissingFileErrorNamesThePath) {
  try {
    read_file("/nonexistent/loupe.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/loupe.bin"), std::string::npos);
  }
}

TEST(Fs, LowerExtension) {
  EXPECT_EQ(lower_extension("a/B.PNG"), "png");
  EXPECT_EQ(lower_extension("noext"), "");
}

}  // namespace loupe
