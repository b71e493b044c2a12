// Option range checks: the exact one-line messages (option, value, range, note) and the
// memory an oversized image side would take.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "loupe/core/option_checks.h"
#include "test_util.h"

namespace loupe {

TEST(OptionChecks, CountsNameTheOptionTheValueAndTheRange) {
  EXPECT_NO_THROW(check_count("--n", 1, 1, 10));
  EXPECT_NO_THROW(check_count("--n", 10, 1, 10));
  EXPECT_EQ(test::error_of([] { check_count("--probe-images", -1, 1, 100000); }),
            "--probe-images -1: expected a number from 1 to 100000");
  EXPECT_EQ(test::error_of([] { check_count("--n", 11, 1, 10); }), "--n 11: expected a number from 1 to 10");
  EXPECT_EQ(test::error_of([] { check_count("--seed", -1, 0, kNoLimit); }), "--seed -1: expected a number >= 0");
  EXPECT_EQ(test::error_of([] { check_count("--train-images", -5, 0, kNoLimit, "0 = all"); }),
            "--train-images -5: expected a number >= 0 (0 = all)");
}

TEST(OptionChecks, RealsMustBeFiniteAndInRange) {
  EXPECT_NO_THROW(check_real("--lambda", 0, 0, 1));
  EXPECT_NO_THROW(check_real("--lambda", 1, 0, 1));
  EXPECT_EQ(test::error_of([] { check_real("--lambda", -1, 0, 1); }), "--lambda -1: expected a number from 0 to 1");
  EXPECT_TRUE(test::contains(test::error_of([] { check_real("--lambda", std::nan(""), 0, 1); }), "--lambda nan"));
  constexpr double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(test::error_of([] { check_real("--max-dist", inf, 0, inf); }),
            "--max-dist inf: expected a finite number >= 0");
  EXPECT_NO_THROW(check_positive("--lr", 1e-5));
  EXPECT_EQ(test::error_of([] { check_positive("--lr", 0); }), "--lr 0: expected a finite number > 0");
  EXPECT_EQ(test::error_of([] { check_positive("--kernel-size", 200, 100); }),
            "--kernel-size 200: expected a number > 0 and <= 100");
}

TEST(OptionChecks, AnOversizedImageSideStatesTheMemoryItWouldNeed) {
  EXPECT_NO_THROW(check_image_side("--size", 1, 3));
  EXPECT_NO_THROW(check_image_side("--size", kMaxImageSide, 3));
  // 3 x 100000^2 x 4 bytes = 1.2e11 bytes = 111.76 GiB; 1 x 65536^2 x 4 bytes = 16 GiB exactly.
  EXPECT_EQ(test::error_of([] { check_image_side("--size", 100000, 3); }),
            "--size 100000: one 3x100000x100000 float image alone needs 111.8 GiB; expected a side from 1 to 4096");
  EXPECT_TRUE(test::contains(test::error_of([] { check_image_side("--size", 65536, 1, "0 = keep"); }),
                             "needs 16.0 GiB; expected a side from 1 to 4096 (0 = keep)"));
  EXPECT_EQ(test::error_of([] { check_image_side("--size", -1, 3); }), "--size -1: expected a number from 1 to 4096");
}

}  // namespace loupe
