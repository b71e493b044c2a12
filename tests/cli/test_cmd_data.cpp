// `loupe data anomalies`: writes the MVTec layout; usage errors exit 2, bad values 1,
// and a refused run leaves no output folder.
#include <gtest/gtest.h>

#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "test_util.h"

namespace loupe {
namespace {

struct DataRun {
  int code;
  std::string out, err;
};

DataRun run_data(std::vector<std::string> args) {
  args.insert(args.begin(), {"data", "anomalies"});
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = cli::run_cli(args);
  return {code, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
}

TEST(CliData, AnomaliesWritesTheMvtecLayout) {
  test::TempDir dir;
  const auto out = dir.path() / "anomalies";
  const auto r = run_data({"--out", out.string(), "--categories", "hazelnut", "--size", "32", "--train-images", "2",
                           "--test-good", "1", "--test-defective", "5", "--seed", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* file : {"train/good/001.png", "test/good/000.png", "test/missing/000.png",
                           "ground_truth/missing/000_mask.png", "ground_truth/print/000_mask.png"})
    EXPECT_TRUE(fs::is_regular_file(out / "hazelnut" / file)) << file;
  EXPECT_FALSE(fs::exists(out / "hazelnut" / "train" / "good" / "002.png"));
  EXPECT_FALSE(fs::exists(out / ".loupe.lock"));
  EXPECT_TRUE(test::contains(r.out, "2 train, 1 good test, 5 defective test images")) << r.out;
}

TEST(CliData, BadValuesExitOneAndWriteNothing) {
  test::TempDir dir;
  const auto out = dir.path() / "anomalies";
  auto r = run_data({"--out", out.string(), "--size", "16"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "--size 16: expected")) << r.err;
  r = run_data({"--out", out.string(), "--categories", "hazelnut,hazelnut"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "'hazelnut' is listed twice")) << r.err;
  r = run_data({"--out", out.string(), "--categories", "gravel", "--photos", dir.path().string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "scripts/fetch_photos.sh")) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliData, UsageErrorsExitTwo) {
  test::TempDir dir;
  auto r = run_data({"--out", (dir.path() / "x").string(), "--categories", "bricks"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(test::contains(r.err, "bricks")) << r.err;
  r = run_data({"--out", (dir.path() / "x").string(), "--size", "big"});
  EXPECT_EQ(r.code, 2);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(cli::run_cli(std::vector<std::string>{"data"}), 2);
  EXPECT_TRUE(test::contains(::testing::internal::GetCapturedStderr(), "anomalies"));
  EXPECT_FALSE(fs::exists(dir.path() / "x"));
}

}  // namespace
}  // namespace loupe
