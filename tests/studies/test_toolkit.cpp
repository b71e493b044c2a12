#include "loupe/studies/toolkit.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/toy_models.h"
#include "loupe/data/dataset.h"

namespace loupe {

TEST(StudyToolkit, NumbersAsReportText) {
  EXPECT_EQ(study::fixed(0.12345, 3), "0.123");
  EXPECT_EQ(study::fixed(2, 0), "2");
  EXPECT_EQ(study::signed_fixed(0.5, 2), "+0.50");
  EXPECT_EQ(study::signed_fixed(-0.5, 1), "-0.5");
  EXPECT_EQ(study::percent(0.957), "95.7%");
  EXPECT_EQ(study::percent(1.0, 0), "100%");
}

TEST(StudyToolkit, TensorsAsPlainValues) {
  EXPECT_EQ(study::to_doubles(torch::tensor({1.5f, -2.f})), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(study::to_int64s(torch::tensor({3, 4}, torch::kInt)), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(study::matrix_json(torch::tensor({1, 2, 3, 4}, torch::kLong).view({2, 2})).dump(), "[[1,2],[3,4]]");
  EXPECT_EQ(study::matrix_json(torch::tensor({0.5, 1.0}, torch::kDouble).view({1, 2})).dump(), "[[0.5,1.0]]");
}

TEST(StudyToolkit, PredictionsAreTheArgMaxAtAnyBatchSizeAndRestoreTheMode) {
  // Logits = (mean - 0.5, 0.5 - mean): class 0 for bright images.
  testing::LambdaNet net([](const torch::Tensor& x) {
    const auto m = x.mean({1, 2, 3});
    return torch::stack({m - 0.5, 0.5 - m}, 1);
  });
  net.train();
  const auto images = torch::stack({torch::full({1, 2, 2}, 0.9f), torch::full({1, 2, 2}, 0.1f),
                                    torch::full({1, 2, 2}, 0.7f)});
  for (int64_t batch : {1, 2, 256})
    EXPECT_TRUE(torch::equal(study::predict_classes(net, images, torch::kCPU, batch),
                             torch::tensor({0, 1, 0}, torch::kLong)));
  EXPECT_TRUE(net.is_training());
}

TEST(StudyToolkit, EncodingImagesAndDatasetsGivesTheSameCodes) {
  torch::manual_seed(4);
  Vae vae(VaeSpec().set_channels(1).set_latents(3));
  const auto u8 = torch::randint(0, 256, {5, 1, 64, 64}, torch::kLong).to(torch::kUInt8);
  const TensorDataset data(u8, torch::zeros({5}, torch::kLong), {"x"});
  const auto from_data = study::encode_dataset(*vae, data, torch::kCPU, /*reconstruct=*/true, 2);
  const auto from_images = study::encode_images(*vae, data.all().images, torch::kCPU, false, 3);
  EXPECT_EQ(from_data.mu.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(torch::allclose(from_data.mu, from_images.mu, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(from_data.logvar, from_images.logvar, 1e-5, 1e-6));
  EXPECT_EQ(from_data.recon.sizes(), (std::vector<int64_t>{5, 1, 64, 64}));
  EXPECT_FALSE(from_images.recon.defined());
  EXPECT_TRUE(torch::allclose(from_data.recon[1], vae->reconstruct(data.all().images.slice(0, 1, 2))[0], 1e-5, 1e-6));
}

}  // namespace loupe
