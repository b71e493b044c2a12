#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/metrics/classification.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

}  // namespace

TEST(Classification, ConfusionMatrixOfHandMadeCase) {
  const auto labels = torch::tensor({0, 0, 1, 2, 2, 2, 1}, torch::kLong);
  const auto predictions = torch::tensor({0, 1, 1, 2, 0, 2, 1}, torch::kLong);
  const auto cm = confusion_matrix(labels, predictions, 4);
  // Rows are true classes; class 3 never occurs but still gets a row and a column.
  const auto expected = torch::tensor({1, 1, 0, 0,  //
                                       0, 2, 0, 0,  //
                                       1, 0, 2, 0,  //
                                       0, 0, 0, 0},
                                      torch::kLong)
                            .view({4, 4});
  EXPECT_EQ(cm.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(cm, expected)) << cm;
  EXPECT_DOUBLE_EQ(accuracy(labels, predictions), 5.0 / 7.0);
}

TEST(Classification, AcceptsOtherIntegerTypes) {
  const auto labels = torch::tensor({1, 0}, torch::kInt), predictions = torch::tensor({1, 1}, torch::kByte);
  EXPECT_TRUE(
      torch::equal(confusion_matrix(labels, predictions, 2), torch::tensor({0, 1, 0, 1}, torch::kLong).view({2, 2})));
  EXPECT_DOUBLE_EQ(accuracy(labels, predictions), 0.5);
}

TEST(Classification, EmptyInputs) {
  const auto none = torch::empty({0}, torch::kLong);
  EXPECT_TRUE(torch::equal(confusion_matrix(none, none, 3), torch::zeros({3, 3}, torch::kLong)));
  EXPECT_EQ(accuracy(none, none), 0.0);
}

TEST(Classification, RejectsBadInputsNamingThem) {
  const auto three = torch::tensor({0, 1, 2}, torch::kLong), two = torch::tensor({0, 1}, torch::kLong);
  auto msg = error_of([&] { confusion_matrix(three, two, 3); });
  EXPECT_TRUE(contains(msg, "3 labels") && contains(msg, "2 predictions")) << msg;
  msg = error_of([&] { accuracy(three, two); });
  EXPECT_TRUE(contains(msg, "3 labels") && contains(msg, "2 predictions")) << msg;

  msg = error_of([&] { confusion_matrix(three, torch::tensor({0.0f, 1.0f, 2.0f}), 3); });
  EXPECT_TRUE(contains(msg, "predictions") && contains(msg, "Float")) << msg;
  msg = error_of([&] { confusion_matrix(three.view({3, 1}), three, 3); });
  EXPECT_TRUE(contains(msg, "labels") && contains(msg, "[3, 1]")) << msg;

  msg = error_of([&] { confusion_matrix(three, torch::tensor({0, 5, 1}, torch::kLong), 3); });
  EXPECT_TRUE(contains(msg, "predictions") && contains(msg, "[0,3)") && contains(msg, "[0,5]")) << msg;
  msg = error_of([&] { confusion_matrix(torch::tensor({-1, 0, 1}, torch::kLong), three, 3); });
  EXPECT_TRUE(contains(msg, "labels") && contains(msg, "[-1,1]")) << msg;
  msg = error_of([&] { confusion_matrix(three, three, 0); });
  EXPECT_TRUE(contains(msg, "num_classes 0")) << msg;
}

}  // namespace loupe
