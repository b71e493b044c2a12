// loupe as a library: `cmake --install` into a temporary prefix, then examples/ (a
// separate CMake project using find_package(loupe)) is configured, built against that
// prefix and run on a TorchScript model. Builds a C++ program (about a minute on 2 cores).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "loupe/core/image.h"
#include "models/script_models.h"
#include "test_util.h"

namespace loupe {
namespace {

// Runs a shell command, returns its exit status; its output is appended to `log` (its
// standard output to `out` instead, if given).
int shell(const std::string& command, const fs::path& log, const fs::path& out = {}) {
  const std::string stdout_to = out.empty() ? ">>'" + log.string() + "'" : ">'" + out.string() + "'";
  const int status = std::system((command + " " + stdout_to + " 2>>'" + log.string() + "'").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(Install, TheExampleBuildsAgainstTheInstalledLibraryAndExplainsAnImage) {
  test::TempDir dir;
  const fs::path prefix = dir.path() / "prefix", build = dir.path() / "build", log = dir.path() / "log.txt";
  const std::string generator = std::system("command -v ninja >/dev/null 2>&1") == 0 ? " -G Ninja" : "";
  ASSERT_EQ(shell("cmake --install '" LOUPE_BINARY_DIR "' --prefix '" + prefix.string() + "'", log), 0)
      << read_text(log);
  for (const auto* installed :
       {"lib/libloupe.a", "lib/cmake/loupe/loupeConfig.cmake", "include/loupe/explain/explainer.h"})
    EXPECT_TRUE(fs::exists(prefix / installed)) << installed;
  // Internal helpers stay out of the installed headers.
  EXPECT_FALSE(fs::exists(prefix / "include/loupe/explain/lime_detail.h"));
  EXPECT_EQ(read_text(prefix / "include/loupe/explain/lime.h").find("weighted_ridge"), std::string::npos);

  ASSERT_EQ(shell("cmake -S '" LOUPE_SOURCE_DIR "/examples' -B '" + build.string() + "'" + generator +
                      " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" + prefix.string() + "'",
                  log),
            0)
      << read_text(log);
  ASSERT_EQ(shell("cmake --build '" + build.string() + "'", log), 0) << read_text(log);

  testing::ResidualWeights w(3);
  testing::write_residual_script(dir.path() / "model.pt", w);
  write_png(dir.path() / "image.png", (torch::manual_seed(0), torch::rand({3, 16, 16})));
  const auto out = dir.path() / "out", stdout_file = dir.path() / "stdout.txt";
  ASSERT_EQ(shell("'" + (build / "explain_image").string() + "' '" + (dir.path() / "model.pt").string() + "' '" +
                      (dir.path() / "image.png").string() + "' '" + out.string() + "'",
                  log, stdout_file),
            0)
      << read_text(log);
  const auto printed = read_text(stdout_file);
  EXPECT_TRUE(test::contains(printed, "3 classes")) << printed;
  // The library set up LibTorch's threads itself on first use (init_threads).
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_TRUE(test::contains(printed, std::to_string(cores) + " threads")) << printed;
  for (const auto* png : {"gradcam.png", "lime.png"}) {
    ASSERT_TRUE(fs::exists(out / png)) << png;
    EXPECT_EQ(read_image(out / png).sizes(), (torch::IntArrayRef{3, 16, 16}));
  }
}

}  // namespace
}  // namespace loupe
