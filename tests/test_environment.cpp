// The whole suite runs with loupe's runtime set-up (init_threads: every core, flushed
// subnormals, one OpenBLAS thread) from the start, as the CLI and a library user's
// program do on first use. Without this, the first test that makes a model would switch
// it on halfway through the run, and results computed before and after it could differ
// in the last bits (a reduction split over another number of threads).
#include <gtest/gtest.h>

#include "loupe/core/device.h"

namespace {

class LoupeRuntime : public ::testing::Environment {
 public:
  void SetUp() override { loupe::init_threads(); }
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new LoupeRuntime);

}  // namespace
