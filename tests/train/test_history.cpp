#include "loupe/train/history.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace loupe {
using test::contains;
using test::error_of;

TEST(History, RecordsAreRatiosOfSumsSoPerImageMeansAreExact) {
  // Batches of 3 and 1 images: losses 0.5 and 2.0 per image, 2 and 0 correct.
  StepLog a, b;
  a.add("loss", 0.5 * 3, 3);
  a.add("accuracy", 2, 3);
  b.add("loss", 2.0 * 1, 1);
  b.add("accuracy", 0, 1);
  EXPECT_DOUBLE_EQ(a.value("loss"), 0.5);
  EXPECT_TRUE(std::isnan(a.value("missing")));
  RecordAccumulator r;
  r.add(a);
  r.add(b);
  EXPECT_EQ(r.steps(), 2);
  EXPECT_DOUBLE_EQ(r.mean("loss"), (1.5 + 2.0) / 4);  // per image, not the mean of step means (1.25)
  EXPECT_EQ(r.mean("accuracy"), 0.5);
  const auto record = r.record(7, 2);
  EXPECT_EQ(record.step, 7);
  EXPECT_EQ(record.epoch, 2);
  EXPECT_EQ(record.value("accuracy"), 0.5);
  EXPECT_TRUE(std::isnan(record.value("val_loss")));
}

TEST(History, JsonRoundTripKeepsNaNAsNull) {
  History h(2);
  h[0] = {3, 1, {{"loss", 0.5}, {"val_loss", std::nan("")}}};
  h[1] = {6, 2, {{"loss", 0.25}, {"val_loss", 0.3}}};
  const std::string json = history_to_json(h);
  EXPECT_EQ(json, R"([{"epoch":1,"loss":0.5,"step":3,"val_loss":null},{"epoch":2,"loss":0.25,"step":6,"val_loss":0.3}])");
  const auto back = history_from_json(json);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].step, 3);
  EXPECT_TRUE(std::isnan(back[0].value("val_loss")));
  EXPECT_EQ(back[1].values, h[1].values);
  EXPECT_EQ(history_series(back, "loss"), (std::vector<double>{0.5, 0.25}));
  EXPECT_TRUE(history_from_json("[]").empty());
}

TEST(History, MalformedJsonIsNamed) {
  EXPECT_TRUE(contains(error_of([] { history_from_json("{not json"); }), "not valid JSON"));
  EXPECT_TRUE(contains(error_of([] { history_from_json("{}"); }), "expected a JSON array"));
  EXPECT_TRUE(contains(error_of([] { history_from_json(R"([{"epoch":1}])"); }), "no 'step' field"));
  EXPECT_TRUE(contains(error_of([] { history_from_json(R"([{"step":-1,"epoch":1}])"); }), "whole number >= 0"));
  EXPECT_TRUE(contains(error_of([] { history_from_json(R"([{"step":1,"epoch":1,"loss":"x"}])"); }),
                       "'loss' should be a number or null"));
}

}  // namespace loupe
